"""The node's /etc/passwd and /etc/group, parsed as glibc's files service reads them."""

from __future__ import annotations

import grp
import pwd

from hypothesis import given
from hypothesis import strategies as st

from agent.accounts import (
    group_entries,
    group_named,
    passwd_entries,
    supplementary_groups,
    user_named,
    user_with_id,
)

PASSWD = """\
root:x:0:0:root:/root:/bin/bash
# a comment, then a blank line

daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
+nisuser::::::
broken:x:not-a-number:1::/:/bin/sh
short:x:5:5
deploy:x:1001:1001:Deploy User,,,:/home/deploy:/bin/bash
deploy:x:2002:2002:a second deploy, never found:/nowhere:/bin/sh
"""

GROUP = """\
root:x:0:
adm:x:4:syslog,deploy
-nisgroup:::
docker:x:998:deploy
deploy:x:1001:deploy
broken:x:nan:deploy
adm-again:x:4:deploy
"""


def test_entries_are_read_in_file_order_skipping_what_is_not_an_entry() -> None:
    assert [e.pw_name for e in passwd_entries(PASSWD)] == ["root", "daemon", "deploy", "deploy"]
    deploy = user_named(PASSWD, "deploy")
    assert deploy == pwd.struct_passwd(
        ("deploy", "x", 1001, 1001, "Deploy User,,,", "/home/deploy", "/bin/bash")
    )


def test_the_first_entry_of_a_name_or_id_wins() -> None:
    first = user_named(PASSWD, "deploy")
    assert first is not None and first.pw_uid == 1001
    by_id = user_with_id(PASSWD, 0)
    assert by_id is not None and by_id.pw_name == "root"


def test_unknown_names_and_ids_are_none() -> None:
    assert user_named(PASSWD, "nobody") is None
    assert user_named(PASSWD, "nisuser") is None  # a NIS reference is no entry
    assert user_named(PASSWD, "+nisuser") is None
    assert user_named(PASSWD, "broken") is None
    assert user_with_id(PASSWD, 65534) is None
    assert user_named("", "root") is None


def test_supplementary_groups_are_those_listing_the_user_once_without_its_primary() -> None:
    deploy = user_named(PASSWD, "deploy")
    assert deploy is not None
    # adm twice (4) counts once; deploy (1001) is its primary group.
    assert supplementary_groups(GROUP, deploy) == [4, 998]
    root = user_named(PASSWD, "root")
    assert root is not None and supplementary_groups(GROUP, root) == []


def test_group_entries_carry_their_members() -> None:
    assert list(group_entries(GROUP))[1] == grp.struct_group(("adm", "x", 4, ["syslog", "deploy"]))
    assert [g.gr_name for g in group_entries(GROUP)] == [
        "root",
        "adm",
        "docker",
        "deploy",
        "adm-again",
    ]


def test_groups_are_found_by_name_the_first_entry_winning() -> None:
    adm = group_named(GROUP, "adm")
    assert adm is not None and (adm.gr_gid, adm.gr_mem) == (4, ["syslog", "deploy"])
    assert group_named(GROUP, "nisgroup") is None
    assert group_named(GROUP, "broken") is None
    assert group_named(GROUP + "adm:x:40:\n", "adm") == adm


def test_ids_beyond_the_kernels_range_are_not_ids() -> None:
    text = "huge:x:4294967295:0::/:/bin/sh\nok:x:4294967294:0::/:/bin/sh\n"
    assert [e.pw_name for e in passwd_entries(text)] == ["ok"]
    assert user_named("neg:x:-1:0::/:/bin/sh\n", "neg") is None
    assert user_named("wide:x:\uff11:0::/:/bin/sh\n", "wide") is None  # a non-ASCII digit


_names = st.from_regex(r"[a-z_][a-z0-9_.-]{0,31}", fullmatch=True)
_ids = st.integers(min_value=0, max_value=2**32 - 2)
_text = st.text(st.characters(blacklist_characters=":\n\r"))
_users = st.tuples(_names, _ids, _ids, _text, _text, _text)


@given(st.lists(_users, max_size=20))
def test_written_entries_read_back(users: list[tuple[str, int, int, str, str, str]]) -> None:
    text = "".join(f"{n}:x:{u}:{g}:{c}:{h}:{s}\n" for n, u, g, c, h, s in users)
    # Fields may hold \x0c or \u2028: lines end at \n only, as glibc reads them.
    expected = [pwd.struct_passwd((n, "x", u, g, c, h, s)) for n, u, g, c, h, s in users]
    assert list(passwd_entries(text)) == expected
    for name, *_ in users:
        found = user_named(text, name)
        first = next((e for e in expected if e.pw_name == name), None)
        assert found == first


@given(st.text())
def test_any_text_parses_without_error(text: str) -> None:
    for entry in passwd_entries(text):
        assert 0 <= entry.pw_uid <= 2**32 - 2 and ":" not in entry.pw_name
    for group in group_entries(text):
        assert all(group.gr_mem)


@given(
    st.lists(st.tuples(_names, _ids, st.lists(_names, max_size=5)), max_size=15),
    _names,
    _ids,
)
def test_supplementary_groups_match_a_reference(
    groups: list[tuple[str, int, list[str]]], user: str, primary: int
) -> None:
    text = "".join(f"{n}:x:{gid}:{','.join(members)}\n" for n, gid, members in groups)
    entry = pwd.struct_passwd((user, "x", 1000, primary, "", "/", "/bin/sh"))
    expected: list[int] = []
    for _, gid, members in groups:
        if user in members and gid != primary and gid not in expected:
            expected.append(gid)
    assert supplementary_groups(text, entry) == expected
