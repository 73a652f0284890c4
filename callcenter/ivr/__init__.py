"""The IVR hotline: FastAGI routes that decide, beside the dialplan in dialplan/."""
