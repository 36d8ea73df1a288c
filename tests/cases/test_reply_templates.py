"""Approved replies: the admin page (supervisors and admins, audited, encrypted), the
reply form's ``template`` select that works without JavaScript in the case's language,
and users allowed approved replies only (403, audited)."""

from __future__ import annotations

from sqlalchemy import select, text

from hotline.cases import reply_templates
from hotline.extensions import db
from hotline.models import AuditEvent, Interaction, ReplyTemplate, User
from tests.conftest import login_as
from tests.dashboard_support import case_url, csrf_token, make_case, post_action

KO_RECEIVED = reply_templates.STARTER["Received"]["ko"]


def _audit(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        return list(db.session.execute(
            select(AuditEvent).where(AuditEvent.action == action)).scalars())


def _starter(app) -> dict[str, int]:
    with app.app_context():
        reply_templates.add_starter_set()
        db.session.commit()
        return {t.name: t.id for t in reply_templates.all_templates()}


def _replies(app, case_id: int) -> list[str]:
    with app.app_context():
        return [m.body for m in db.session.execute(select(Interaction).where(
            Interaction.case_id == case_id, Interaction.kind == "message_out")).scalars()]


def test_starter_set_is_short_discreet_and_in_four_languages():
    assert set(reply_templates.STARTER) == {
        "Received", "We will call you back", "Staying safe while writing",
        "Reaching us by web form"}
    for texts in reply_templates.STARTER.values():
        assert set(texts) == {"ko", "ru", "uk", "en"}
        for value in texts.values():
            assert 0 < len(value) <= 160
            assert "hotline" not in value.lower() and "surrender" not in value.lower()


def test_admin_page_is_for_supervisors_and_admins(client, app, staff, supervisor):
    login_as(client, staff)
    assert client.get("/admin/replies/").status_code == 403
    login_as(client, supervisor)
    page = client.get("/admin/replies/")
    assert page.status_code == 200 and "Add the starter set" in page.get_data(as_text=True)


def test_templates_are_added_edited_deleted_audited_and_encrypted(client, app, supervisor):
    login_as(client, supervisor)
    token = csrf_token(client.get("/admin/replies/").get_data(as_text=True))
    response = client.post("/admin/replies/", data={
        "csrf_token": token, "name": "Hold on", "text_ko": "잠시만 기다려 주세요.",
        "text_en": "Please hold on."})
    assert response.status_code == 303
    with app.app_context():
        template = db.session.execute(select(ReplyTemplate)).scalar_one()
        template_id = template.id
        assert template.text("ko") == "잠시만 기다려 주세요." and template.text("ru") is None
        raw = db.session.execute(text("SELECT text_ko FROM reply_templates")).scalar_one()
        assert "기다려" not in raw
    assert client.post("/admin/replies/", data={
        "csrf_token": token, "name": "hold ON", "text_en": "x"}).status_code == 400
    assert client.post("/admin/replies/", data={
        "csrf_token": token, "name": "Empty"}).status_code == 400
    assert client.post("/admin/replies/", data={"name": "No token",
                                                 "text_en": "x"}).status_code == 400
    response = client.post(f"/admin/replies/{template_id}", data={
        "csrf_token": token, "name": "Hold on", "text_en": "Please hold on a moment."})
    assert response.status_code == 303
    assert client.get("/admin/replies/999999").status_code == 404
    assert client.post(f"/admin/replies/{template_id}/delete",
                       data={"csrf_token": token}).status_code == 303
    assert client.post("/admin/replies/starter", data={"csrf_token": token}).status_code == 303
    with app.app_context():
        assert len(reply_templates.all_templates()) == 4
    for action in ("reply_template.create", "reply_template.update",
                   "reply_template.delete", "reply_template.starter"):
        assert len(_audit(app, action)) == 1, action


def test_empty_box_sends_the_template_in_the_case_language(client, app, staff):
    ids = _starter(app)
    case = make_case(app, language="ko", body="도와주세요")
    login_as(client, staff)
    page = client.get(case_url(case["reference"])).get_data(as_text=True)
    assert 'name="reply-template"' in page and 'id="reply-template"' in page
    assert f'data-text="{KO_RECEIVED}"' in page
    response = post_action(client, case["reference"], "reply", body="",
                           template=str(ids["Received"]))
    assert response.status_code == 303
    assert _replies(app, case["id"]) == [KO_RECEIVED]


def test_approved_replies_only_refuses_free_text(client, app, staff, make_user):
    ids = _starter(app)
    case = make_case(app, language="ru")
    with app.app_context():
        db.session.get(User, staff.id).approved_replies_only = True
        db.session.commit()
    login_as(client, staff)
    response = post_action(client, case["reference"], "reply", body="Мой собственный текст")
    assert response.status_code == 403
    assert "only approved replies" in response.get_data(as_text=True)
    [event] = _audit(app, "case.reply_refused")
    assert event.detail["reason"] == "approved_replies_only"
    assert _replies(app, case["id"]) == []
    russian = reply_templates.STARTER["We will call you back"]["ru"]
    assert post_action(client, case["reference"], "reply", body=russian).status_code == 303
    assert post_action(client, case["reference"], "reply", body="",
                       template=str(ids["Received"])).status_code == 303
    assert post_action(client, case["reference"], "reply", body=russian + " Хорошо?",
                       template=str(ids["Received"])).status_code == 403
    assert len(_replies(app, case["id"])) == 2


def test_admin_sets_approved_replies_only_audited(client, app, supervisor, staff):
    login_as(client, supervisor)
    token = csrf_token(client.get("/admin/replies/").get_data(as_text=True))
    response = client.post(f"/admin/replies/users/{staff.id}",
                           data={f"u{staff.id}-csrf_token": token,
                                 f"u{staff.id}-approved_only": "y"})
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(User, staff.id).approved_replies_only is True
    [event] = _audit(app, "user.approved_replies_only")
    assert event.detail == {"user_id": staff.id, "approved_replies_only": True}
    assert client.post("/admin/replies/users/99999999",
                       data={"csrf_token": token}).status_code == 404
