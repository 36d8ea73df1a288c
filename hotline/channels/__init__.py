"""The front doors: one subpackage per channel, each ending in ``intake.receive()``.

``twilio/`` (SMS, WhatsApp, voice), ``web/`` (the public form and /followup);
``replies`` holds every text a caller is sent or hears. A new channel is a new
subpackage with its blueprint, registered in ``hotline.create_app``.
"""
