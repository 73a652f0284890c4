"""callcenter: a telephony-integrated contact-centre server beside Asterisk."""

__version__ = "0.1.0"
