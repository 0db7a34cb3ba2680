"""`python -m tools.moodle_check --moodle-src <tree> [--btec-src <tree>]`: the plugin in a real Moodle, against the
running product.

For each variant (without the BTEC grading form, and with it when `--btec-src` is given): install that Moodle
on a private PostgreSQL cluster, make data as a college would have it before the plugin, install and configure
the plugin, drive the scenarios through core APIs, deliver with Moodle's own adhoc task runner, and compare the
product's end state (projections, Zoho emulator) with what each scenario should leave. Prints one table per
variant; exits 1 on any difference, 2 when the check itself could not run.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common.settings import PROJECT_ROOT
from tools.moodle_check import checks, provision
from tools.moodle_check.checks import Result
from tools.moodle_check.product import Ports, Product
from tools.moodle_check.site import PLUGIN_DIR, Cluster, Site, SiteError, moodle_release

PLUGIN = PROJECT_ROOT / "moodle_plugin"
EMAIL = "mc.{}@students.college.example"
IV_ROLES = "iv"


def seed_zoho(product: Product, ids: dict[str, Any]) -> None:
    """The college's Zoho side: a program, a unit and a class per Moodle course (matched by the class's Moodle
    course id) and the students (matched by email) with their registrations. Created through the Zoho API, so
    the org's workflow webhooks bring them to the ingress as a live Zoho would."""
    with product.zoho_api() as api:
        program = product.zoho_create(api, "Products", {
            "Product_Name": "BTEC Level 3 National Extended Diploma in Computing", "Program_ID": "L3-MC",
            "Status": "Approved"})
        courses = [c for c in ("course_legacy", "course_enrol", "course_points", "course_btec") if c in ids]
        for number, course in enumerate(courses, start=1):
            unit = product.zoho_create(api, "BTEC", {
                "Name": f"Unit {number}: {course}", "Unit_Code": f"MC{number:02d}", "Unit_Number": str(number),
                "Program": {"id": program}})
            product.zoho_create(api, "BTEC_Classes", {
                "Class_Name": f"MC-{course}-2026", "Class_Short_Name": f"MC{number:02d}",
                "BTEC_Program": {"id": program}, "Unit": {"id": unit}, "Moodle_Class_ID": str(ids[course]),
                "Class_Status": "Active"})
        for key, (first, last) in {"legacy": ("Layla", "Legacy"), "alice": ("Alice", "Anders"),
                                   "sam": ("Sam", "Student"), "gina": ("Gina", "Graded"),
                                   "hana": ("Hana", "Held")}.items():
            student = product.zoho_create(api, "BTEC_Students", {
                "Name": f"MC-{key.upper()}", "First_Name": first, "Last_Name": last,
                "Academic_Email": EMAIL.format(key), "Status": "Active"})
            product.zoho_create(api, "BTEC_Registrations", {
                "Student_ID": {"id": student}, "Program": {"id": program}, "Registration_Status": "Active",
                "Registration_Date": "2026-09-01"})


def configure(site: Site, product: Product) -> None:
    tenant, secret = product.tenant()
    # Moodle's curl security blocks 127.0.0.1 and ports other than 80/443; the product listens on both.
    site.cfg("curlsecurityblockedhosts", "")
    site.cfg("curlsecurityallowedport", "")
    component = "local_moodle_zoho_sync"
    for name, value in {"backendurl": product.ingress_url, "tenantid": tenant, "secret": secret,
                        "allowinternal": "1", "ivroles": IV_ROLES}.items():
        site.cfg(name, value, component)


def backfill(site: Site) -> str:
    script = site.root / PLUGIN_DIR / "cli" / "backfill.php"
    if not script.exists():
        return "missing (no cli/backfill.php in the plugin)"
    proc = site.cli(str(script.relative_to(site.root)), check=False)
    return "ran" if proc.returncode == 0 else f"failed (exit {proc.returncode})"


def run_variant(name: str, moodle_src: Path, btec_src: Path | None, work: Path, product: Product,
                pg_port: int, reuse: bool, provisioning: bool) -> tuple[list[Result], dict[str, str], list[str]]:
    results: list[Result] = []
    differences: list[str] = []
    timings: dict[str, str] = {}
    work.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(pg_port, work / "postgres.log")
    site = Site(moodle_src, work, cluster)
    started = time.monotonic()

    def step(label: str) -> None:
        timings[label] = f"{time.monotonic() - started:.0f}s"
        print(f"[{name}] {label} at {timings[label]}", flush=True)

    try:
        cache = work / "installed"
        if reuse and (cache / "config.php").exists():
            cluster.start(snapshot=cache / "pgdata")
            site.copy(btec_src, installed=cache)
            step("Moodle restored from the last install")
        else:
            cluster.start()
            site.copy(btec_src)
            site.install()
            step("Moodle installed")
            site.snapshot(cache)
        ids = site.drive("setup")
        web = provision.setup_webservice(site) if provisioning else {}
        seed_zoho(product, ids)
        try:
            site.add_plugin(PLUGIN)
            schema = site.cli("admin/cli/check_database_schema.php", check=False)
            found = "ok" if schema.returncode == 0 else "schema differs: " + " ".join(schema.stdout.split())[:200]
            results.append(Result("plugin install + upgrade (database schema as install.xml)", "ok", found))
        except SiteError as exc:
            results.append(Result("plugin install + upgrade", "ok", str(exc).splitlines()[0]))
            return results, timings, differences
        configure(site, product)
        step("plugin installed")
        # The college's first day: what the site had before the plugin, queued by the backfill.
        ran = backfill(site)
        ids |= site.drive("users")
        site.run_adhoc_tasks()
        carol_before = checks.carol_delivered(product, ids)
        site.drive("delete_carol", ids)
        ids |= site.drive("enrolments", ids)
        ids |= site.drive("grades", ids)
        step("scenarios driven")
        site.run_adhoc_tasks()
        # A second run delivers what the first one queued or rescheduled at once.
        site.run_adhoc_tasks()
        step("adhoc tasks run")
        checks.start_clock()
        results.append(checks.delivery(site.drive("outbox")))
        results += checks.users(product, ids, carol_before)
        raw = product.raw_moodle()
        results += checks.enrolments(product, ids, raw)
        results += checks.points_grade(product, ids, raw)
        if ids.get("btec"):
            results += checks.btec_grade(product, ids, product.raw_moodle())
        # After the other grades' checks: by then the sink has had the time to write this one if it would.
        results += checks.unreleased_grade(product, ids)
        results += checks.backfill(product, ids, ran)
        step("checked")
        if provisioning:
            # After the plugin's checks: the sink also provisions the Zoho data seeded for them (linking their
            # Moodle accounts and courses), which would change what those checks look at.
            scenario = provision.Provisioning(site, product, web)
            try:
                scenario.run(ids)
            finally:
                # Rows of the steps that ran stay in the table when a later step breaks.
                results += scenario.results
                differences = scenario.differences
            step("provisioning checked")
    except Exception as exc:  # the table must say the check broke, and where
        traceback.print_exc()
        results.append(Result("check ran to the end", "yes", f"{type(exc).__name__}: {str(exc).splitlines()[0]}"))
    finally:
        cluster.remove()
        timings["total"] = f"{time.monotonic() - started:.0f}s"
    return results, timings, differences


def table(name: str, version: str, results: list[Result], timings: dict[str, str]) -> str:
    width = max(len(r.scenario) for r in results)
    lines = [f"\n== {name}: Moodle {version}, {datetime.now(tz=UTC):%Y-%m-%d %H:%M} UTC, "
             f"{timings.get('total', '?')} ==",
             f"{'scenario'.ljust(width)} | result | expected | found"]
    for r in results:
        lines.append(f"{r.scenario.ljust(width)} | {'PASS' if r.passed else 'FAIL'}   | {r.expected} | {r.found}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.moodle_check", description=__doc__)
    parser.add_argument("--moodle-src", type=Path, required=True, help="a Moodle source tree (4.3 or newer)")
    parser.add_argument("--btec-src", type=Path, help="a gradingform_btec tree: adds a run with it installed")
    parser.add_argument("--work", type=Path, default=PROJECT_ROOT / ".moodle-check", help="scratch directory")
    parser.add_argument("--stack-dir", type=Path, default=PROJECT_ROOT / ".stack-mc")
    parser.add_argument("--moodle-pg-port", type=int, default=23932)
    parser.add_argument("--only", choices=("plain", "btec"), help="run one variant")
    parser.add_argument("--no-provisioning", action="store_true",
                        help="skip the Moodle sink's provisioning scenario (it runs in the first variant)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch Moodle trees")
    parser.add_argument("--reuse-install", action="store_true",
                        help="start from the freshly installed site the last run saved (skips Moodle's installer, "
                             "for working on the check itself; a recorded run installs afresh)")
    args = parser.parse_args(argv)
    # Stopped from outside (a background job ignores SIGINT): the `finally` blocks still stop the product's
    # processes, php -S and the PostgreSQL cluster.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not (args.moodle_src / "version.php").exists():
        print(f"error: {args.moodle_src} is not a Moodle source tree", file=sys.stderr)
        return 2
    variants: list[tuple[str, Path | None]] = [("without gradingform_btec", None)]
    if args.btec_src:
        variants.append(("with gradingform_btec", args.btec_src))
    if args.only:
        variants = [v for v in variants if (v[1] is None) == (args.only == "plain")]
    ok = True
    for name, btec in variants:
        product = Product(args.stack_dir.resolve(), Ports(), args.work.resolve() / "product-logs")
        try:
            product.start()
            results, timings, differences = run_variant(
                name, args.moodle_src.resolve(), btec.resolve() if btec else None,
                args.work.resolve() / ("btec" if btec else "plain"), product, args.moodle_pg_port,
                args.reuse_install, provisioning=not args.no_provisioning and name == variants[0][0])
        finally:
            product.stop()
        print(table(name, moodle_release(args.moodle_src), results, timings),
              flush=True)
        if differences:
            print("\nemulator vs this Moodle, call by call (#seq phase function: difference):")
            print("\n".join(f"  {d}" for d in differences), flush=True)
        ok = ok and all(r.passed for r in results)
        if not args.keep:
            shutil.rmtree(args.work / ("btec" if btec else "plain") / "moodle", ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
