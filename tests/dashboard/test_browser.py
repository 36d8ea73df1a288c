"""A shift in a real browser: a case arrives by signed SMS, is claimed, classified, answered
and closed; a colleague's stale page is refused. Takes the README screenshots
(``screenshot`` in tests/browser.py says where they go)."""

from __future__ import annotations

from datetime import timedelta

from hotline.extensions import db
from hotline.intake.service import receive
from hotline.models import Case, User, utcnow
from tests.browser import signed_in_context

CALLER = "+79161234545"


def _seed_demo(app, staff) -> None:
    """Realistic traffic in all four languages, plus an earlier case of our caller."""
    with app.app_context():
        earlier = receive(channel="sms", address=CALLER, body="Как с вами связаться?",
                          external_id="SMdemo0", language="ru").case
        earlier.status, earlier.resolution = "closed", "information_provided"
        earlier.closed_at = utcnow() - timedelta(days=40)
        earlier.created_at = utcnow() - timedelta(days=41)
        db.session.commit()
        ko = receive(channel="sms", address="+821012345678", external_id="SMdemo1",
                     language="ko", body="군에서 탈출하고 싶습니다. 도와주세요.").case
        ko.created_at = utcnow() - timedelta(minutes=42)
        ua = receive(channel="whatsapp", address="whatsapp:+380501234567",
                     external_id="SMdemo2", language="uk",
                     body="Мого сина хочуть мобілізувати, що робити?").case
        ua.urgency, ua.created_at = "high", utcnow() - timedelta(minutes=17)
        web = receive(channel="web", address="web-demo-1", external_id="WEBdemo3",
                      language="en",
                      body="My brother is a conscript near Belgorod and wants to surrender."
                      ).case
        web.status, web.category, web.assigned_to_id = "in_progress", "relative", staff.id
        web.created_at = utcnow() - timedelta(hours=3, minutes=10)
        voice = receive(channel="voice", address="+79031112233", external_id="CAdemo4",
                        kind="call", language="ru", body=None,
                        meta={"status": "no-answer"}).case
        voice.callback_needed, voice.urgency = True, "immediate"
        voice.created_at = utcnow() - timedelta(minutes=8)
        for case in (ko, ua, web, voice):  # untouched since they arrived, as in real traffic
            case.updated_at = case.created_at
        web.updated_at = utcnow() - timedelta(minutes=25)
        db.session.commit()


def test_a_case_worked_end_to_end_in_the_browser(app, chromium, live_server, make_user,
                                                 twilio_post, screenshot):
    staff = make_user("staff", display_name="Olena K.", languages="ru,uk,en")
    colleague = make_user("supervisor", display_name="Min-jun P.", languages="ko,en")
    _seed_demo(app, staff)
    response = twilio_post("/twilio/sms", {
        "From": CALLER, "To": "+15005550006", "MessageSid": "SM" + "b" * 32, "NumMedia": "0",
        "Body": "Я военнослужащий, хочу сдаться. Нахожусь под Курском. <script>x()</script>"})
    assert response.status_code == 200
    with app.app_context():
        case = db.session.query(Case).filter(Case.status == "new",
                                             Case.channel == "sms", Case.language == "ru"
                                             ).order_by(Case.id.desc()).first()
        reference = case.display_reference

    mine = signed_in_context(chromium, app, staff, live_server)
    theirs = signed_in_context(chromium, app, colleague, live_server)
    try:
        page = mine.new_page()
        page.goto(f"{live_server}/dashboard/")
        assert page.title().startswith("(") and page.title().endswith("Queue — Hotline")
        assert page.locator(f"text={reference}").count() == 1
        screenshot(page, "queue.png")

        page.get_by_role("link", name=reference).click()
        page.wait_for_url(f"**/dashboard/cases/{reference}")
        assert page.locator(".timeline").inner_text().count("<script>x()</script>") == 1
        assert "+7 *** *** ** 45" in page.locator("#case-facts").inner_text()
        assert "This caller has 1 other case" in page.content()

        page.get_by_role("button", name="Claim this case").click()
        assert page.get_by_text("You took the case.").is_visible()

        page.get_by_label("Category", exact=True).select_option("surrender")
        page.get_by_label("Caller type").select_option("serviceman")
        page.get_by_label("Affiliation").select_option("russia")
        page.get_by_label("Urgency").select_option("high")
        page.get_by_role("button", name="Save classification").click()
        assert page.get_by_text("Classification saved.").is_visible()

        page.get_by_label("Reply to the caller").fill(
            "Мы получили ваше сообщение. Оставайтесь на связи, мы скоро ответим.")
        page.get_by_role("button", name="Send reply by SMS").click()
        assert page.get_by_text("Reply queued.").is_visible()

        page.get_by_label("Internal note (never sent to the caller)").fill(
            "Говорит спокойно; просит инструкции на русском. Перезвонить после 18:00.")
        page.get_by_role("button", name="Add note").click()

        # The colleague opens the case now, before it is closed ...
        other = theirs.new_page()
        other.goto(f"{live_server}/dashboard/cases/{reference}")

        page.get_by_label("New status").select_option("closed")
        page.get_by_label("Resolution (required to close)").select_option("handed_over")
        page.get_by_role("button", name="Change status").click()
        assert page.get_by_text("Status changed.").is_visible()
        assert "closed" in page.locator("h1").inner_text()
        screenshot(page, "case.png")

        # ... and changes the status on the page they loaded: the status changed under
        # them, so it is refused, naming who changed the case.
        other.get_by_label("New status").select_option("waiting")
        other.get_by_role("button", name="Change status").click()
        alert = other.locator("#action-error")
        assert "This case was changed by Olena K. after you opened it" in alert.inner_text()
        # A note conflicts with nothing: it is added.
        other.get_by_label("Internal note (never sent to the caller)").fill("Late note")
        other.get_by_role("button", name="Add note").click()
        assert other.get_by_text("Note added.").is_visible()

        # The same pages for a staff member who reads Ukrainian and a supervisor who reads
        # Korean (their language set on their account; README screenshots).
        for user, context, lang, queue_word in ((staff, mine, "uk", "Черга"),
                                                (colleague, theirs, "ko", "대기열")):
            with app.app_context():
                db.session.get(User, user.id).ui_language = lang
                db.session.commit()
            shown = context.new_page()
            shown.goto(f"{live_server}/dashboard/")
            assert shown.locator("html").get_attribute("lang") == lang
            assert shown.title().endswith(f"{queue_word} — Hotline")
            screenshot(shown, f"queue-{lang}.png")
            shown.goto(f"{live_server}/dashboard/cases/{reference}")
            assert shown.locator("html").get_attribute("lang") == lang
            screenshot(shown, f"case-{lang}.png")
    finally:
        mine.close()
        theirs.close()

    with app.app_context():
        row = db.session.get(Case, case.id)
        assert (row.status, row.resolution, row.category, row.urgency) == (
            "closed", "handed_over", "surrender", "high")
        # No Twilio in this test: the reply never left, so it is no response (issue 15).
        assert row.assigned_to_id == staff.id and row.first_response_at is None
        assert [i.body for i in row.interactions if i.kind == "note"] == [
            "Говорит спокойно; просит инструкции на русском. Перезвонить после 18:00.",
            "Late note"]
