"""The public web channel: ``views`` (the landing page, contact form and /followup),
``forms``, ``intake`` (what a submission does) and ``receipts`` (the follow-up secret).
"""
