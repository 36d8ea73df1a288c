"""Intake under burst load: the SMS webhook under gunicorn on PostgreSQL, against two baselines.

Steps: (1) fresh databases; (2) pre-sign N distinct SMS webhook requests (distinct
MessageSids, mostly distinct senders with some repeat callers, Korean, Russian,
Ukrainian and English text) with twilio's RequestValidator against PUBLIC_BASE_URL +
path; (3) for the bare baseline, the one-insert baseline and the app: start gunicorn with
the same settings, warm up, replay the file with wrk (closed loop, as fast as it goes);
(4) for the app also a fixed-rate run with the open-loop client; (5) check in the
database that every request sent became exactly one interaction; (6) report.

Usage: ``bench/intake/run.sh [--requests N] [--rate R --rate-seconds S] [--smoke]``.
Exit status 1 when a correctness check fails (lost or duplicated interactions, errors).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import (
    AUTH_TOKEN,
    HOST,
    PUBLIC_BASE_URL,
    ROOT,
    WORK,
    Gunicorn,
    app_env,
    drop_database,
    flask,
    log,
    machine,
    percentile,
    psql,
    recreate_database,
)
from bench.intake.openloop import MAX_CONNECTIONS, http_post, run_open_loop

HERE = Path(__file__).resolve().parent
APP_DB = "hotline_bench_intake"
BASELINE_DB = "hotline_bench_baseline"
PATH = "/twilio/sms"
WORKERS = 2
WRK_THREADS = 2
WRK_CONNECTIONS = 16
# gunicorn settings shared by the baselines and the app (set from the command line).
SERVER: dict = {}
RSS_LIMIT_MB = 150
RSS_GROWTH_LIMIT_MB = 10
TEXTS = {
    "ko": ["안녕하세요, 도움이 필요합니다", "항복하고 싶습니다", "가족이 걱정됩니다",
           "지금은 말하기 어렵습니다"],
    "ru": ["Здравствуйте, мне нужна помощь", "Хочу сдаться, как это сделать",
           "Сына забирают в армию", "Не могу говорить, напишите"],
    "uk": ["Добрий день, мій брат у полоні", "Як передати інформацію?",
           "Чи безпечно вам писати", "Ми в укритті, зв'язок поганий"],
    "en": ["Hello, I need help", "My husband was conscripted", "Is this line safe?",
           "Please reply by text only"],
}
PREFIXES = {"ko": ("+8210", 8), "ru": ("+79", 9), "uk": ("+38067", 7), "en": ("+4477", 8)}


def build_requests(n: int, tag: str, seed: int) -> list[tuple[str, str, str]]:
    """(MessageSid, signature, form body) for n distinct messages; ~25 % from repeat callers."""
    rng = random.Random(seed)
    validator = RequestValidator(AUTH_TOKEN)
    url = PUBLIC_BASE_URL + PATH
    senders: list[tuple[str, str]] = []
    out = []
    for i in range(n):
        if senders and rng.random() < 0.25:
            sender, language = rng.choice(senders)
        else:
            language = rng.choices(list(TEXTS), weights=(30, 35, 20, 15))[0]
            prefix, digits = PREFIXES[language]
            sender = prefix + str(rng.randrange(10 ** (digits - 1), 10 ** digits))
            if rng.random() < 0.3:
                sender = "whatsapp:" + sender
            senders.append((sender, language))
        sid = f"SM{tag}{i:024x}"
        params = {
            "ToCountry": "US", "SmsMessageSid": sid, "NumMedia": "0", "SmsSid": sid,
            "SmsStatus": "received", "Body": f"{rng.choice(TEXTS[language])} #{i}",
            "To": "+15005550006", "NumSegments": "1", "MessageSid": sid,
            "AccountSid": "AC" + "0" * 32, "From": sender, "ApiVersion": "2010-04-01",
        }
        out.append((sid, validator.compute_signature(url, params), urlencode(params)))
    return out


def write_requests(rows: list[tuple[str, str, str]], path: Path) -> None:
    with path.open("w") as handle:
        for _, signature, body in rows:
            handle.write(f"{signature}\t{body}\n")


def payloads(rows: list[tuple[str, str, str]]) -> list[bytes]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return [http_post(PATH, f"{HOST}", {**headers, "X-Twilio-Signature": sig}, body)
            for _, sig, body in rows]


def run_wrk(port: int, request_file: Path, limit_seconds: int) -> dict:
    """Replay the file with wrk; the Lua script prints one RESULT line of JSON.

    Each wrk thread leaves a marker file once all its requests are answered; wrk itself
    would sleep out the whole ``-d``, so the harness then ends it with SIGINT (wrk's
    normal way to stop early: it still prints its summary, timed to that moment).
    """
    markers = WORK / "wrk-markers"
    shutil.rmtree(markers, ignore_errors=True)
    markers.mkdir(parents=True)
    args = ["wrk", "-t", str(WRK_THREADS), "-c", str(WRK_CONNECTIONS), "-d",
            f"{limit_seconds}s", "--timeout", "10s", "-s", str(HERE / "replay.lua"),
            f"http://{HOST}:{port}", "--", str(request_file), str(WRK_THREADS), str(markers)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + limit_seconds + 30
    while process.poll() is None and time.monotonic() < deadline:
        if len(list(markers.iterdir())) >= WRK_THREADS:
            process.send_signal(signal.SIGINT)
            break
        time.sleep(0.02)
    try:
        stdout, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
    match = re.search(r"^RESULT (\{.*\})$", stdout, re.MULTILINE)
    if process.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed: {stdout[-2000:]} {stderr[-2000:]}")
    return json.loads(match.group(1))


def warm_up(port: int, rows: list[tuple[str, str, str]]) -> None:
    if rows:
        run_open_loop(HOST, port, payloads(rows), rate=100.0,
                      keep_alive=SERVER.get("keep_alive", 2))


def measure(name: str, app: str, env: dict[str, str], port: int, request_file: Path,
            warm_rows: list, limit_seconds: int) -> tuple[dict, Gunicorn, dict, dict]:
    with Gunicorn(app, env, port, **SERVER) as server:
        warm_up(port, warm_rows)
        before = server.rss_mb()
        log(f"[{name}] replaying with wrk ...")
        result = run_wrk(port, request_file, limit_seconds)
        time.sleep(1.0)  # requests in flight when wrk stopped finish on the server
        after = server.rss_mb()
        log(f"[{name}] {result['rps']:.0f} requests/s, p99 {result['p99_ms']:.1f} ms")
    return result, server, before, after


def verify_answered(tag: str, answered_sids: list[str]) -> dict:
    """Every request answered 2xx is exactly one interaction (fixed-rate run)."""
    stored = psql("SELECT external_id FROM interactions WHERE kind = 'message_in' "  # noqa: S608
                  f"AND external_id LIKE 'SM{tag}%'", APP_DB).split()
    return {"answered": len(answered_sids), "interactions": len(stored),
            "lost": len(set(answered_sids) - set(stored)),
            "duplicates": len(stored) - len(set(stored))}


def verify_app(tag: str, sent: int) -> dict:
    """Every sent request is exactly one interaction; no caller has two open cases."""
    query = ("SELECT count(*), count(DISTINCT external_id) FROM interactions "  # noqa: S608
             f"WHERE kind = 'message_in' AND external_id LIKE 'SM{tag}%'")  # tag: hex digits
    total, distinct = psql(query, APP_DB).split("|")
    double_open = psql(
        "SELECT count(*) FROM (SELECT caller_id FROM cases WHERE status <> 'closed' "
        "GROUP BY caller_id HAVING count(*) > 1) AS t", APP_DB)
    return {"sent": sent, "interactions": int(total), "lost": sent - int(distinct),
            "duplicates": int(total) - int(distinct),
            "callers_with_two_open_cases": int(double_open)}


def fmt_rss(values: dict) -> str:
    return ", ".join(f"{mb:.1f}" for mb in values.values()) or "?"


def main() -> int:
    global APP_DB, BASELINE_DB
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--rate-seconds", type=float, default=30.0)
    parser.add_argument("--port", type=int, default=8901)
    parser.add_argument("--limit-seconds", type=int, default=600,
                        help="upper bound on each wrk run")
    parser.add_argument("--smoke", action="store_true",
                        help="a tiny correctness run: 300 requests, then 20/s for 2 s")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--database", default=APP_DB,
                        help="name of the app's bench database (the baseline's gets "
                             "a _baseline suffix); lets two runs share the server")
    parser.add_argument("--worker-class", default="gthread", choices=("gthread", "sync"))
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--keep-alive", type=int, default=2,
                        help="gunicorn keep-alive seconds (0: close after each answer)")
    args = parser.parse_args()
    if args.database != APP_DB:
        APP_DB, BASELINE_DB = args.database, f"{args.database}_baseline"
    SERVER.update(workers=WORKERS, worker_class=args.worker_class, threads=args.threads,
                  keep_alive=args.keep_alive)
    server_settings = Gunicorn("wsgi:app", {}, args.port, **SERVER).settings
    if args.smoke:
        args.requests, args.rate, args.rate_seconds, args.limit_seconds = 300, 20.0, 2.0, 60
    WORK.mkdir(parents=True, exist_ok=True)
    tag = f"{random.randrange(16 ** 8):08x}"
    fixed_n = int(args.rate * args.rate_seconds)

    log("preparing databases and pre-signing requests ...")
    app_url = recreate_database(APP_DB)
    base_url = recreate_database(BASELINE_DB)
    psql("CREATE TABLE bench_baseline (id bigserial PRIMARY KEY, sid varchar(64) NOT NULL, "
         "body text, created_at timestamptz NOT NULL DEFAULT now())", BASELINE_DB)
    env = app_env(app_url)
    flask(["db", "upgrade"], env)
    started = time.perf_counter()
    burst = build_requests(args.requests, tag, seed=1)
    fixed = build_requests(fixed_n, "f" + tag[1:], seed=2)
    warm = build_requests(200 if not args.smoke else 20, "w" + tag[1:], seed=3)
    sign_seconds = time.perf_counter() - started
    request_file = WORK / "intake-requests.tsv"
    write_requests(burst, request_file)

    results: dict = {"machine": machine(), "requests": args.requests,
                     "gunicorn": server_settings,
                     "wrk": f"{WRK_THREADS} threads, {WRK_CONNECTIONS} connections",
                     "presign_seconds": round(sign_seconds, 1)}
    base_env = app_env(base_url)
    bare, _, _, _ = measure("bare baseline", "bench.intake.baseline_app:app",
                            {**base_env, "BASELINE_MODE": "bare"}, args.port, request_file,
                            warm, args.limit_seconds)
    psql("TRUNCATE bench_baseline", BASELINE_DB)
    insert, _, _, _ = measure("insert baseline", "bench.intake.baseline_app:app",
                              {**base_env, "BASELINE_MODE": "insert"}, args.port,
                              request_file, warm, args.limit_seconds)
    inserted = int(psql("SELECT count(DISTINCT sid) FROM bench_baseline "  # noqa: S608
                        f"WHERE sid LIKE 'SM{tag}%'", BASELINE_DB))

    with Gunicorn("wsgi:app", env, args.port, **SERVER) as server:
        warm_up(args.port, warm)
        rss_start = server.rss_mb()
        log("[app] replaying with wrk ...")
        app = run_wrk(args.port, request_file, args.limit_seconds)
        time.sleep(1.0)
        rss_after_burst = server.rss_mb()
        log(f"[app] {app['rps']:.0f} requests/s, p99 {app['p99_ms']:.1f} ms; "
            f"fixed rate {args.rate:.0f}/s for {args.rate_seconds:.0f} s ...")
        open_loop = run_open_loop(HOST, args.port, payloads(fixed), args.rate,
                                  keep_alive=args.keep_alive)
        time.sleep(1.0)
        rss_end = server.rss_mb()
    check = verify_app(tag, app["fresh"])
    fixed_check = verify_answered("f" + tag[1:], [fixed[i][0] for i in open_loop.ok_indexes])

    fixed_result = {
        "offered_rps": args.rate, "requests": fixed_n,
        "achieved_rps": round(len(open_loop.latencies_ms) / max(open_loop.seconds, 1e-9), 1),
        "p50_ms": round(percentile(open_loop.latencies_ms, 50), 2),
        "p99_ms": round(percentile(open_loop.latencies_ms, 99), 2),
        "max_ms": round(max(open_loop.latencies_ms, default=float("nan")), 2),
        "ok": open_loop.ok, "non_2xx": open_loop.non_2xx, "errors": open_loop.errors,
        "unsent": open_loop.unsent,
        "lost": fixed_check["lost"], "duplicates": fixed_check["duplicates"],
    }
    growth = max((rss_end.get(pid, 0) - rss_start.get(pid, 0) for pid in rss_start),
                 default=0.0)
    results.update({
        "bare_baseline": bare, "insert_baseline": {**insert, "rows": inserted},
        "app": app, "check": check, "fixed_rate": fixed_result,
        "ratio_to_bare": round(app["rps"] / bare["rps"], 3),
        "ratio_to_insert": round(app["rps"] / insert["rps"], 3),
        "rss_mb": {"after_warmup": list(rss_start.values()),
                   "after_burst": list(rss_after_burst.values()),
                   "after_fixed_rate": list(rss_end.values()),
                   "max_growth": round(growth, 1)},
    })
    report(results, rss_start, rss_after_burst, rss_end)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"intake-{time.strftime('%Y%m%d-%H%M%S')}.json").write_text(
        json.dumps(results, indent=2))
    if not args.keep_db:
        drop_database(APP_DB)
        drop_database(BASELINE_DB)

    failures = []
    if check["lost"] or check["duplicates"] or fixed_check["lost"] or fixed_check["duplicates"]:
        failures.append("lost or duplicated interactions")
    if check["callers_with_two_open_cases"]:
        failures.append("a caller has two open cases")
    if app["non_2xx"] or app["socket_errors"] or app["timeouts"]:
        failures.append("errors during the burst")
    if open_loop.non_2xx or open_loop.errors or open_loop.unsent:
        failures.append("errors during the fixed-rate run (overload)")
    if inserted != insert["fresh"]:
        failures.append("the insert baseline lost rows")
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


def report(r: dict, rss_start: dict, rss_burst: dict, rss_end: dict) -> None:
    """The figures as the README shows them."""
    app, bare, ins, fixed, check = (r["app"], r["bare_baseline"], r["insert_baseline"],
                                    r["fixed_rate"], r["check"])

    def row(name: str, d: dict) -> str:
        return (f"| {name:<28} | {d['rps']:>9.1f} | {d['p50_ms']:>8.2f} | {d['p99_ms']:>8.2f} "
                f"| {d['non_2xx'] + d['socket_errors'] + d['timeouts']:>6} |")

    print(f"machine: {r['machine']}")
    print(f"gunicorn: {r['gunicorn']}; wrk: {r['wrk']}; {r['requests']} pre-signed requests "
          f"(signed in {r['presign_seconds']} s)")
    print()
    print("| run (closed loop, wrk)       | req/s     | p50 ms   | p99 ms   | errors |")
    print("|------------------------------|-----------|----------|----------|--------|")
    print(row("bare Flask + signature", bare))
    print(row("one-insert baseline", ins))
    print(row("Hotline /twilio/sms", app))
    print()
    print(f"intake / bare baseline:   {r['ratio_to_bare']:.2f}")
    print(f"intake / insert baseline: {r['ratio_to_insert']:.2f}   (target >= 0.50)")
    print(f"database check: {check['sent']} sent ({app['retries']} extra retries), "
          f"{check['interactions']} interactions, lost {check['lost']}, "
          f"duplicated {check['duplicates']}, callers with two open cases "
          f"{check['callers_with_two_open_cases']}")
    print(f"fixed rate: {fixed['offered_rps']:.0f}/s offered for {fixed['requests']} requests, "
          f"{fixed['achieved_rps']:.1f}/s answered, p50 {fixed['p50_ms']:.2f} ms, "
          f"p99 {fixed['p99_ms']:.2f} ms (target < 50), max {fixed['max_ms']:.2f} ms, "
          f"errors {fixed['non_2xx'] + fixed['errors']}, not sent (all {MAX_CONNECTIONS} "
          f"connections busy) {fixed['unsent']}, answered-but-lost {fixed['lost']}, "
          f"duplicated {fixed['duplicates']}")
    print(f"worker RSS MB: after warm-up [{fmt_rss(rss_start)}], after burst "
          f"[{fmt_rss(rss_burst)}], after fixed rate [{fmt_rss(rss_end)}]; max growth "
          f"{r['rss_mb']['max_growth']:.1f} MB (target < {RSS_LIMIT_MB} MB, not growing)")


if __name__ == "__main__":
    sys.exit(main())
