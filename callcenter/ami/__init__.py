"""The AMI adapter: one resilient link per PBX, built on panoramisk's protocol pieces."""
