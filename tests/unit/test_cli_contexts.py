"""The config file of contexts: what is saved is read back the same, whatever the text,
with mode 0600, and a bad file is refused naming what is wrong."""

import stat
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.cli.contexts import Config, Context, load, save
from scheduler.cli.errors import UsageError

# Any text but NUL and lone surrogates, which no file name, address or TOML string holds.
_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
_contexts = st.builds(Context, server=_text, token_file=_text, ca_file=_text, tls_server_name=_text)


@settings(max_examples=200, deadline=None)
@given(
    contexts=st.dictionaries(_text.filter(bool), _contexts, max_size=4),
    current=_text,
)
def test_saved_contexts_read_back_the_same(
    tmp_path_factory: pytest.TempPathFactory, contexts: dict[str, Context], current: str
) -> None:
    path = tmp_path_factory.mktemp("config") / "kairos" / "config.toml"
    save(path, Config(current=current, contexts=contexts))
    assert load(path) == Config(current=current, contexts=contexts)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    tomllib.loads(path.read_text(encoding="utf-8"))  # plain TOML, for any other reader


def test_no_file_is_no_context(tmp_path: Path) -> None:
    assert load(tmp_path / "absent.toml") == Config()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("current-context = [", "not valid TOML"),
        ("current-context = 1", "current-context must be a string"),
        ('[contexts.a]\nserver = "x"\ntoken = "secret"', "unknown keys token"),
        ("[contexts.a]\nserver = 5", "every value must be a string"),
    ],
)
def test_a_bad_file_is_refused_naming_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(UsageError) as raised:
        load(path)
    assert str(path) in raised.value.message
    assert message in raised.value.message
