"""The CLI's human output, its --help and click's errors follow VOICEWATCH_LANG, then LANG:
Chinese or English."""

from __future__ import annotations

import gettext
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.cli import main
from ingest.cli_language import speak
from ingest.i18n import CHINESE, Language
from ingest.up import MAX_RESTART_DELAY, STARTED_AFTER, Supervisor

ROOT = Path(__file__).parents[2]
LANGUAGE_VARIABLES = ("VOICEWATCH_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


@pytest.fixture(autouse=True)
def _global_gettext_restored():
    # A Chinese run binds the stdlib's global gettext domain (click's words) and LANGUAGE.
    domain, language = gettext.textdomain(), os.environ.get("LANGUAGE")
    yield
    gettext.textdomain(domain)
    os.environ.pop("LANGUAGE", None)
    if language is not None:
        os.environ["LANGUAGE"] = language


def run(tmp_path, *args: str, **env: str):
    environment = {
        "VOICEWATCH_DB": f"sqlite:///{tmp_path / 'cli.db'}",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "LC_ALL": "",
        "LANGUAGE": "",
        **env,
    }
    return CliRunner().invoke(main, list(args), env=environment, catch_exceptions=False)


def voicewatch(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`voicewatch ARGS` in a process of its own, as a user runs it."""
    environment = {k: v for k, v in os.environ.items() if k not in LANGUAGE_VARIABLES}
    environment.update(
        VOICEWATCH_DB=f"sqlite:///{tmp_path / 'cli.db'}",
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        **env,
    )
    command = [sys.executable, "-m", "ingest", *args]
    return subprocess.run(
        command, env=environment, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_help_is_in_chinese_when_voicewatch_lang_says_so(tmp_path):
    top = voicewatch(tmp_path, "--help", VOICEWATCH_LANG="zh_CN", LANG="en_US.UTF-8")
    assert top.returncode == 0, top.stderr
    for words in ("用法:", "选项:", "命令:", "显示此帮助信息并退出。", "[默认：INFO]"):
        assert words in top.stdout
    assert "lookup     按 sid 或号码查询发送记录和状态报告。\n" in top.stdout
    assert "Usage" not in top.stdout and "Show this message" not in top.stdout
    lookup = voicewatch(tmp_path, "lookup", "--help", VOICEWATCH_LANG="zh_CN")
    assert "部分号码" in lookup.stdout and "--unmask    显示完整号码（值班使用）" in lookup.stdout
    assert "Options" not in lookup.stdout and "Sends and reports" not in lookup.stdout


def test_click_errors_are_in_chinese(tmp_path):
    missing = voicewatch(tmp_path, "lookup", LANG="zh_CN.UTF-8")
    assert missing.returncode == 2
    assert "错误：缺少参数 'SID_OR_MOBILE'" in missing.stderr
    assert "运行 'python -m ingest lookup --help' 查看帮助。" in missing.stderr
    unknown = voicewatch(tmp_path, "lookup", "--nope", "x", VOICEWATCH_LANG="zh_CN")
    assert "错误：没有 '--nope' 这个选项。" in unknown.stderr
    not_a_number = voicewatch(tmp_path, "serve", "--port", "abc", VOICEWATCH_LANG="zh_CN")
    assert "'--port' 的值无效：'abc' 不是有效的整数。" in not_a_number.stderr


def test_help_and_errors_stay_english_by_default(tmp_path):
    top = voicewatch(tmp_path, "--help", LANG="C.UTF-8")
    assert "Usage: python -m ingest" in top.stdout and "Show this message and exit." in top.stdout
    missing = voicewatch(tmp_path, "lookup", VOICEWATCH_LANG="en", LANG="zh_CN.UTF-8")
    assert "Error: Missing argument 'SID_OR_MOBILE'." in missing.stderr


def test_one_process_can_answer_in_one_language_then_the_other(tmp_path):
    assert "显示此帮助信息并退出。" in run(tmp_path, "db", "--help", VOICEWATCH_LANG="zh_CN").output
    english = run(tmp_path, "db", "--help", VOICEWATCH_LANG="en").output
    assert "Show this message and exit." in english and "Database maintenance." in english
    assert "Usage:" in english and "用法" not in english


def test_every_help_text_of_every_command_is_translated(tmp_path):
    speak(main, Language(), tmp_path)  # the English texts, whatever ran before
    chinese, untranslated = Language(CHINESE), []

    def walk(command):
        texts = [command.help, *(param.help for param in command.params)]
        untranslated.extend(t for t in texts if t and chinese.gettext(t) == t)
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(main)
    assert untranslated == [], "mark them with N_() and run `make messages`"


def test_the_restart_numbers_in_up_help_are_the_ones_up_uses(tmp_path):
    shown = " ".join(run(tmp_path, "up", "--help", LANG="C.UTF-8").output.split())
    assert f"up to {MAX_RESTART_DELAY:.0f} s" in shown
    assert f"within {STARTED_AFTER:.0f} s of its start" in shown


def test_db_commands_answer_in_chinese_when_voicewatch_lang_says_so(tmp_path):
    upgraded = run(tmp_path, "db", "upgrade", VOICEWATCH_LANG="zh_CN", LANG="en_US.UTF-8")
    assert upgraded.output.startswith("数据库版本：")
    purged = run(tmp_path, "db", "purge", "--days", "30", LANG="zh_CN.UTF-8")
    assert "已删除 0 行" in purged.output and "，" in purged.output


def test_db_commands_answer_in_english_by_default(tmp_path):
    assert run(tmp_path, "db", "upgrade", LANG="C.UTF-8").output.startswith("database at revision")
    refused = CliRunner().invoke(
        main,
        ["db", "purge"],
        env={"VOICEWATCH_DB": f"sqlite:///{tmp_path / 'cli.db'}", "VOICEWATCH_LANG": "zh_CN"},
    )
    assert refused.exit_code == 2 and "未设置保留期限" in refused.output


def test_seed_reports_its_counts_in_chinese(tmp_path):
    seeded = run(tmp_path, "seed", "--days", "1", "--per-day", "20", VOICEWATCH_LANG="zh_CN")
    assert "生成历史数据" in seeded.output  # the progress bar's label
    assert "已生成 " in seeded.output and "次接听" in seeded.output


def test_up_restarts_are_announced_in_the_chosen_language(tmp_path, capsys):
    from ingest.i18n import Language

    supervisor = Supervisor({}, language=Language("zh_CN"))
    supervisor.start("pull loop", ["--version"])
    supervisor.children[0].process.wait(timeout=30)
    supervisor.watch()
    assert "pull loop 已退出（状态码 " in capsys.readouterr().err
    supervisor.stop()
