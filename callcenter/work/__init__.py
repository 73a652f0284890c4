"""Work items: follow-ups, callbacks, complaints and inquiries, with owners and deadlines."""
