/* Queue alerts: ask the server every few seconds how many new cases there are.
   The poll keeps running in a background tab (a night shift works in another tab): the
   title and the favicon badge update; an optional sound and a desktop notification (the
   permission is asked on a click) say "2 new cases" or "1 new message on your cases",
   never anything a caller wrote. Every word shown comes from the server in the reader's
   language: the poll's "texts" (plural forms from the catalogues) and the page's
   data-signed-out. When the session ends the poll gets a JSON 401 and the
   page says so in a banner with a sign-in link. Nothing here uses another host.
   The page works without this script (the Refresh link reloads it). */
(function () {
  "use strict";
  var root = document.getElementById("queue");
  if (!root || !window.fetch) { return; }
  var pollUrl = root.getAttribute("data-poll-url");
  var latestId = root.getAttribute("data-latest-id") || "0";
  var latestMessage = root.getAttribute("data-latest-message") || "0";
  var seconds = parseInt(root.getAttribute("data-poll-seconds"), 10) || 25;
  var baseTitle = root.getAttribute("data-title");
  var signedOutTitle = root.getAttribute("data-signed-out") || "Signed out";
  var notice = document.getElementById("queue-notice");
  var waiting = document.getElementById("new-waiting");
  var counter = document.getElementById("new-count");
  var ended = document.getElementById("session-ended");
  var controls = document.getElementById("alert-controls");
  var notifyButton = document.getElementById("alerts-notify");
  var soundBox = document.getElementById("alerts-sound");
  var favicon = document.getElementById("favicon");
  var timer = null;
  var audio = null;
  var prefs = {};
  try { prefs = JSON.parse(window.localStorage.getItem("hotline.alerts") || "{}"); } catch (e) {}

  function savePrefs() {
    try { window.localStorage.setItem("hotline.alerts", JSON.stringify(prefs)); } catch (e) {}
  }

  function badge(count) {
    if (!favicon) { return; }
    var canvas = document.createElement("canvas");
    canvas.width = canvas.height = 32;
    var ctx = canvas.getContext("2d");
    if (!ctx) { return; }
    ctx.fillStyle = "#0b5394";
    ctx.fillRect(0, 0, 32, 32);
    ctx.fillStyle = "#fff";
    ctx.font = "bold 22px sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText("H", 16, 17);
    if (count > 0) {
      ctx.fillStyle = "#cf222e";
      ctx.beginPath();
      ctx.arc(22, 10, 10, 0, 2 * Math.PI);
      ctx.fill();
      ctx.fillStyle = "#fff";
      ctx.font = "bold 13px sans-serif";
      ctx.fillText(count > 99 ? "99" : String(count), 22, 11);
    }
    favicon.href = canvas.toDataURL("image/png");
    favicon.setAttribute("data-count", String(count));
  }

  function beep() {
    if (!prefs.sound || !audio) { return; }
    var tone = audio.createOscillator();
    var gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.4);
    tone.connect(gain);
    gain.connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.4);
  }

  function notify(text) {
    beep();
    if (!prefs.notify || !window.Notification || Notification.permission !== "granted") {
      return;
    }
    // Only a count: a notification shows on a locked or shared screen.
    var shown = new Notification("Hotline", { body: text, tag: "hotline-queue" });
    shown.onclick = function () { window.focus(); shown.close(); };
  }

  function show(data) {
    document.title = (data["new"] > 0 ? "(" + data["new"] + ") " : "") + baseTitle;
    var texts = data.texts || {};
    if (waiting && texts.waiting) {
      waiting.textContent = "";
      // The count keeps its own element (id="new-count") inside the sentence.
      var at = texts.waiting.indexOf(String(data["new"]));
      if (at < 0) {
        waiting.textContent = texts.waiting;
      } else {
        counter = document.createElement("span");
        counter.id = "new-count";
        counter.textContent = String(data["new"]);
        waiting.appendChild(document.createTextNode(texts.waiting.slice(0, at)));
        waiting.appendChild(counter);
        waiting.appendChild(document.createTextNode(
          texts.waiting.slice(at + String(data["new"]).length)));
      }
    } else if (counter) {
      counter.textContent = String(data["new"]);
    }
    badge(data["new"]);
    if (texts.notice) {
      notice.textContent = "";
      var link = document.createElement("a");
      link.href = window.location.pathname + window.location.search;
      link.textContent = texts.notice;
      notice.appendChild(link);
      notice.hidden = false;
    }
    if (texts.alert) { notify(texts.alert); }
  }

  function signedOut(login) {
    window.clearInterval(timer);
    var link = document.getElementById("session-login");
    var here = window.location.pathname + window.location.search;
    link.href = (login || "/login") + "?next=" + encodeURIComponent(here);
    ended.hidden = false;
    document.title = signedOutTitle + " — " + baseTitle;
    badge(0);
  }

  var seenCases = latestId;
  var seenMessages = latestMessage;

  function poll() {
    // document.hidden is no reason to stop: the background tab is the one that must alert.
    // The background header keeps polling from counting as activity, so an unattended
    // screen still reaches the idle timeout; the poll then gets a 401 (signedOut).
    var url = pollUrl + "?since=" + encodeURIComponent(latestId) +
      "&seen=" + encodeURIComponent(seenCases) +
      "&since_message=" + encodeURIComponent(latestMessage) +
      "&seen_message=" + encodeURIComponent(seenMessages);
    fetch(url, {
      credentials: "same-origin", redirect: "manual",
      headers: { "Accept": "application/json", "X-Hotline-Background": "1" }
    }).then(function (response) {
      if (response.status === 401) {
        return response.json().then(function (body) { signedOut(body.login); return null; });
      }
      if (response.type === "opaqueredirect" || response.redirected) {
        signedOut(null);
        return null;
      }
      return response.ok ? response.json() : null;
    }).then(function (data) {
      if (!data) { return; }
      seenCases = String(data.latest_id);
      seenMessages = String(data.latest_message_id);
      show(data);
    }).catch(function () { /* offline for a moment: try again at the next tick */ });
  }

  if (controls) {
    controls.hidden = false;
    soundBox.checked = !!prefs.sound;
    soundBox.addEventListener("change", function () {
      prefs.sound = soundBox.checked;
      savePrefs();
      if (prefs.sound && !audio && window.AudioContext) { audio = new window.AudioContext(); }
      beep();
    });
    if (!window.Notification) {
      notifyButton.hidden = true;
    } else {
      notifyButton.setAttribute("aria-pressed", String(!!prefs.notify));
      notifyButton.addEventListener("click", function () {
        if (prefs.notify) {
          prefs.notify = false;
          savePrefs();
          notifyButton.setAttribute("aria-pressed", "false");
          return;
        }
        // Asked only here, on the user's click.
        Notification.requestPermission().then(function (answer) {
          prefs.notify = answer === "granted";
          savePrefs();
          notifyButton.setAttribute("aria-pressed", String(prefs.notify));
        });
      });
    }
    // A page cannot start sound by itself: the first click anywhere allows it.
    document.addEventListener("click", function () {
      if (prefs.sound && !audio && window.AudioContext) { audio = new window.AudioContext(); }
    }, { once: true });
  }

  badge(parseInt(counter.textContent, 10) || 0);
  timer = window.setInterval(poll, seconds * 1000);
  document.addEventListener("visibilitychange", poll);
}());
