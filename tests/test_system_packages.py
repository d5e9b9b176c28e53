"""`.ci/system-packages`, the one place `make` and CI get Debian packages from, run against stubs of
dpkg-query, id, sudo and apt-get on PATH: what it would install, as whom, and what it prints when it
may not."""

import os
import subprocess
import tempfile
from pathlib import Path

from django.conf import settings
from django.test import SimpleTestCase

SCRIPT = Path(settings.BASE_DIR) / ".ci" / "system-packages"

STUBS = {
    # installed packages are listed in $STUB_INSTALLED, one name per line
    "dpkg-query": 'pkg="${@: -1}"; grep -qx "$pkg" "$STUB_INSTALLED" && printf installed && exit 0; exit 1',
    "id": 'echo "$STUB_UID"',
    "sudo": ('[ "$1" = "-n" ] && shift; [ "$STUB_SUDO" = "yes" ] || exit 1; [ "$1" = "true" ] && exit 0; '
             'echo "sudo" >> "$STUB_LOG"; exec "$@"'),
    "apt-get": 'echo "apt-get $* DEBIAN_FRONTEND=$DEBIAN_FRONTEND" >> "$STUB_LOG"',
}


class SystemPackagesTestCase(SimpleTestCase):
    def setUp(self):
        self.dir = Path(tempfile.mkdtemp(prefix="walkflow-stubs-"))
        self.addCleanup(subprocess.run, ["rm", "-rf", str(self.dir)])
        bin_dir = self.dir / "bin"
        bin_dir.mkdir()
        for name, body in STUBS.items():
            stub = bin_dir / name
            stub.write_text(f"#!/bin/bash\n{body}\n")
            stub.chmod(0o755)
        self.installed = self.dir / "installed"
        self.log = self.dir / "log"
        self.env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "STUB_INSTALLED": str(self.installed),
                    "STUB_LOG": str(self.log), "STUB_UID": "1000", "STUB_SUDO": "no", "HOME": str(self.dir)}

    def run_script(self, *packages, installed=(), **env):
        self.installed.write_text("".join(f"{name}\n" for name in installed))
        result = subprocess.run(["/bin/bash", str(SCRIPT), *packages], env={**self.env, **env},
                                capture_output=True, text=True, timeout=30)
        ran = self.log.read_text().splitlines() if self.log.exists() else []
        return result, ran

    def test_nothing_happens_when_every_package_is_there(self):
        result, ran = self.run_script("chromium", "wrk", installed=["chromium", "wrk"])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(ran, [])
        self.assertEqual(result.stdout + result.stderr, "")

    def test_root_installs_only_the_missing_packages(self):
        result, ran = self.run_script("chromium", "wrk", "poppler-utils", installed=["wrk"], STUB_UID="0")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(ran, ["apt-get update -qq DEBIAN_FRONTEND=noninteractive",
                               "apt-get install -y -qq --no-install-recommends chromium poppler-utils "
                               "DEBIAN_FRONTEND=noninteractive"])

    def test_a_user_with_passwordless_sudo_installs_through_sudo(self):
        result, ran = self.run_script("fonts-noto-cjk", STUB_SUDO="yes")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(ran, ["sudo", "apt-get update -qq DEBIAN_FRONTEND=noninteractive",
                               "sudo", "apt-get install -y -qq --no-install-recommends fonts-noto-cjk "
                               "DEBIAN_FRONTEND=noninteractive"])

    def test_a_user_who_cannot_install_is_told_the_one_command_and_make_stops(self):
        result, ran = self.run_script("chromium", "libreoffice-writer-nogui", installed=["libreoffice-writer-nogui"])
        self.assertEqual(result.returncode, 1)
        self.assertEqual(ran, [])
        self.assertIn("sudo apt-get update && sudo apt-get install -y --no-install-recommends chromium\n",
                      result.stderr)
        self.assertNotIn("libreoffice", result.stderr)

    def test_a_probe_path_counts_a_package_installed_another_way(self):
        browser = self.dir / "chrome"
        browser.write_text("")
        result, ran = self.run_script(f"chromium={browser}", f"wrk={self.dir / 'no-such-wrk'}", STUB_UID="0")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(ran[1], "apt-get install -y -qq --no-install-recommends wrk DEBIAN_FRONTEND=noninteractive")

    def test_the_makefile_and_ci_use_it(self):
        dry_run = subprocess.run(["make", "-n", "test-packages"], cwd=settings.BASE_DIR, capture_output=True,
                                 text=True, env={**os.environ, "WALKFLOW_SKIP_BROWSER": ""}, timeout=30)
        self.assertIn(".ci/system-packages chromium=/usr/bin/chromium libreoffice-calc-nogui", dry_run.stdout)
        self.assertNotIn("apt-get", (Path(settings.BASE_DIR) / ".ci" / "run").read_text())
