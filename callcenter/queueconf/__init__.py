"""Queue settings: the desired configuration of managed queues, applied through Asterisk's
own include file and reload, and the queues' announcements."""
