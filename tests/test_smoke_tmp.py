def test_sms_to_case(twilio_post, app):
    r = twilio_post("/twilio/sms", {"From": "+79161234567", "To": "+15005550006", "Body": "Привет, хочу сдаться", "MessageSid": "SM" + "a"*32, "NumMedia": "0"})
    print(r.data)
    assert r.status_code == 200
    r2 = twilio_post("/twilio/sms", {"From": "+79161234567", "To": "+15005550006", "Body": "Привет, хочу сдаться", "MessageSid": "SM" + "a"*32, "NumMedia": "0"})
    assert r2.data == r.data
