"""The CLI's human output follows VOICEWATCH_LANG, then LANG: Chinese or English."""

from __future__ import annotations

from click.testing import CliRunner

from ingest.cli import main
from ingest.up import Supervisor


def run(tmp_path, *args: str, **env: str):
    environment = {"VOICEWATCH_DB": f"sqlite:///{tmp_path / 'cli.db'}", "LC_ALL": "", **env}
    return CliRunner().invoke(main, list(args), env=environment, catch_exceptions=False)


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
