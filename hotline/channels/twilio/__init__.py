"""Twilio: ``sms`` (SMS and WhatsApp), ``voice`` (the IVR routes), ``calls`` (the call
record and the on-duty roster), ``twiml`` (the answers), ``simulate`` (signed test calls).
"""
