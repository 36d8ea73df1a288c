"""Names vulture cannot see being used: read by a framework, a template or the tests.

Routes, hooks, commands and filters are recognised by their decorators
(``[tool.vulture]`` in pyproject.toml); what is left is listed here, each with where it is
read. A name that nothing reads any more is deleted from the code, not added here.
"""
# ruff: noqa: B018, F821
# mypy: ignore-errors

# Flask and Flask-Login read these attributes.
_.session_interface  # Flask: the session interface (hotline/__init__.py)
_.login_view  # Flask-Login (hotline/auth/session.py)
_.session_protection  # Flask-Login (hotline/auth/session.py)
_.isolation_level  # the DBAPI connection (hotline/database.py)
_.max_content_length  # Flask reads the per-request body limit (channels/telegram/webhook.py)

# WTForms: class attributes of forms and fields, rendered by templates.
widget  # hotline/admin/forms.py: the multi-checkbox field
option_widget  # hotline/admin/forms.py
confirm  # hotline/auth/forms.py: the password confirmation field (templates/auth/)
_.raw_data  # WTForms reads it when it redraws a field (hotline/dashboard/views.py)

# SQLAlchemy columns written by the code and read by pages, exports or retention.
last_login_at  # User: written at sign-in (hotline/auth/login.py), shown on admin pages
_.last_login_at
opt_out_keyword  # Caller: the STOP word received (hotline/channels/twilio/sms.py)
_.opt_out_keyword
opted_out_at  # Caller
_.opted_out_at
first_seen  # Caller: written by the intake's upsert (raw SQL)
last_seen  # Caller
actor_id  # AuditEvent: the staff member who acted

# TypedDict keys, written and read as meta["..."] (hotline/cases/timeline.py).
dial_status  # CallMeta: hotline/channels/twilio/voice.py writes it, call_outcome reads it
callback_marked  # CallMeta: hotline/channels/twilio/calls.py (update_call)

# Read in templates.
_.last_error  # Entry: templates/timeline/message_out.html (delivery detail)
last_error
_.can_sign_in_with_password  # User: templates/admin/user.html
_.fragment  # Entry and ActionSpec: templates/dashboard/case.html includes it by name
mine  # ThreadEntry: templates/public/followup.html
open_cases  # ReportData: templates/reports/index.html
p90_first_response_seconds  # ReportData: templates/reports/index.html
callback_oldest  # ReportData: templates/reports/index.html
staff  # ReportData: templates/reports/index.html
_.backlog_total  # ReportData: templates/reports/index.html
_.closed_total  # ReportData: templates/reports/index.html

# Read through g.get(...) later in the same request.
_.followup_ended  # hotline/channels/web/views.py
_.followup_refused  # hotline/channels/web/views.py
_.request_started  # hotline/logging_setup.py

# Used by the tests and the demo/bench tooling.
compile_catalogues  # tests/conftest.py compiles the catalogues for a plain pytest run
untranslated  # tests/app/test_translations.py
SMS_SEGMENT_UCS2  # tests/channels/twilio/test_sms.py: every auto-reply fits one segment
stop_background_thread  # tests/messaging/: stops the development outbox thread
batches  # SeedReport: tests/app/test_demo_seed.py
_.batches

# Called by migrations (not in vulture's paths) and the tests.
canary_token  # migrations/versions/0025_key_canary.py; tests/conftest.py (PostgreSQL cleanup)

# The report roll-up's bucket rule in Python: tests/reports/test_rollup.py checks it
# against the SQL of hotline/reports/buckets.py and of migration 0026.
bucket_of

# Call-backs through the line (issue 20).
via  # CallbackMeta key: written by timeline.line_callback_meta, read by the presenter
staff_status  # CallbackMeta key: written by channels/twilio/calls._summarise
caller_status  # CallbackMeta key: written by channels/twilio/calls._summarise
_.ended_at  # CallLeg: when the leg ended, kept for the operator's own queries
allow_redirects  # PlayedTwilio.request: twilio's HttpClient.request signature

# Triage at a glance (issue 13): Triage fields read by templates/dashboard/queue.html.
_.preview
_.waiting_since
# Approved replies (issue 15): one column / form field per language, read by name
# (ReplyTemplate.text, the admin form's ``text_<lang>`` and the templates).
text_ko
text_ru
text_uk
text_en
whatsapp_template  # MessageOutMeta key: written by timeline.whatsapp_template_meta
content_variables  # MessageOutMeta key: read by channels/twilio/sender.py
# Caller texts (issue 16): every C_() text, read by tests/app/test_caller_translations.py.
CALLER_TEXTS
# The report's within-target rows (issue 13): read by templates/reports/index.html.
target_seconds
share
