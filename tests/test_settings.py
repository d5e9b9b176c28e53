"""Start-up with production-like environments, each in a fresh interpreter."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "x" * 20 + "-production-secret-key-with-enough-entropy-0123456789",
    "ALLOWED_HOSTS": "walkflow.example.gov.cn",
    "CSRF_TRUSTED_ORIGINS": "https://walkflow.example.gov.cn",
}


def run_manage(env_overrides, *args):
    env = {key: value for key, value in os.environ.items()
           if key not in ("DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "MEDIA_ROOT",
                          "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(env_overrides)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_it_stops_without_secret_key_when_debug_is_off():
    result = run_manage({"DEBUG": "0"}, "check")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
    assert "关闭 DEBUG 时必须提供 SECRET_KEY" in result.stderr


@pytest.mark.parametrize("name,value", [("DEBUG", "maybe"), ("EMAIL_PORT", "twenty-five"),
                                        ("DATABASE_URL", "mysql://root@localhost/x"),
                                        ("REDIS_URL", "localhost:6379")])
def test_it_names_the_variable_it_cannot_parse(name, value):
    result = run_manage({**PRODUCTION, name: value}, "check")
    assert result.returncode != 0
    assert name in result.stderr


def test_deploy_check_is_clean_with_production_variables():
    result = run_manage(PRODUCTION, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("env,expected", [
    ({}, "LocMemCache "),
    ({"REDIS_URL": "redis://127.0.0.1:6379/10"}, "RedisCache redis://127.0.0.1:6379/10"),
    ({"REDIS_URL": "redis://127.0.0.1:6379/10", "CACHE_URL": "redis://cache:6379/2"}, "RedisCache redis://cache:6379/2"),
])
def test_one_cache_serves_the_api_rate_limit_and_the_choice_lists(env, expected):
    """CACHE_URL when given, else the Redis of REDIS_URL, else each process's memory."""
    result = run_manage({**PRODUCTION, **env}, "shell", "-c", "from django.conf import settings; "
                        "c = settings.CACHES['default']; print(c['BACKEND'].rsplit('.', 1)[1], c.get('LOCATION', ''))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected.strip()  # after shell's auto-import line


@pytest.mark.parametrize("url,expected", [
    ("postgres://walkflow@db/walkflow", "-c random_page_cost=1.1 -c max_parallel_workers_per_gather=0"),
    ("postgres://walkflow@db/walkflow?options=-c%20random_page_cost%3D2", "-c random_page_cost=2"),
    ("sqlite:////tmp/walkflow.sqlite3", "None"),
])
def test_postgresql_plans_for_data_in_memory_unless_the_url_says_otherwise(url, expected):
    result = run_manage({**PRODUCTION, "DATABASE_URL": url}, "shell", "-c", "from django.conf import settings; "
                        "print(settings.DATABASES['default'].get('OPTIONS', {}).get('options'))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected


@pytest.mark.parametrize("env,expected", [
    ({}, "LocMemCache  20000"),
    ({"REDIS_URL": "redis://127.0.0.1:6379/10"}, "RedisCache redis://127.0.0.1:6379/10 None"),
])
def test_rendered_markup_has_a_store_of_its_own_in_memory_and_shares_redis(env, expected):
    """50 ledger rows a page would otherwise push the choice lists out of one process's 2,000 entries."""
    result = run_manage({**PRODUCTION, **env}, "shell", "-c", "from django.conf import settings; "
                        "c = settings.CACHES['rendered']; print(c['BACKEND'].rsplit('.', 1)[1], c.get('LOCATION', ''), "
                        "c.get('OPTIONS', {}).get('MAX_ENTRIES'))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected
