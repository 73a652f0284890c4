"""The adapter between the AMI links and the pure live model, and the fan-out of its changes."""
