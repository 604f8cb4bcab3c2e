"""One-time links and codes: single use, expiry, five tries per code, only hashes stored."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import text

from sesame.adapters.clock import FrozenClock
from sesame.bootstrap import Container, build_container
from sesame.config import Settings
from sesame.domain.accounts import Account, TokenPurpose
from sesame.services.tokens import MAX_CODE_ATTEMPTS, IssuedToken, OneTimeTokens
from tests.services.accounts_support import create_account, demo_tenant

CONFIRM = TokenPurpose.CONFIRM_EMAIL
HOUR = timedelta(hours=1)


@pytest.fixture
def account(container: Container) -> Account:
    return create_account(container, demo_tenant(container), verified=False)


@pytest.fixture
def tokens(container: Container) -> OneTimeTokens:
    return container.tokens


def issue(container: Container, account: Account, purpose: TokenPurpose = CONFIRM, **kwargs: str) -> IssuedToken:
    with container.uow() as uow:
        issued = container.tokens.issue(uow, account.id, purpose, container.clock.now(), HOUR, **kwargs)
        uow.commit()
    return issued


def by_link(container: Container, link: str, purpose: TokenPurpose = CONFIRM) -> bool:
    with container.uow() as uow:
        token = container.tokens.redeem_link(uow, link, purpose, container.clock.now())
        uow.commit()
    return token is not None


def by_code(container: Container, account: Account, code: str, purpose: TokenPurpose = CONFIRM) -> bool:
    with container.uow() as uow:
        token = container.tokens.redeem_code(uow, account.id, purpose, code, container.clock.now())
        uow.commit()  # a wrong code's try is counted only if committed
    return token is not None


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_a_link_works_once(container: Container, account: Account) -> None:
    issued = issue(container, account)
    assert by_link(container, issued.link_token)
    assert not by_link(container, issued.link_token)
    assert not by_code(container, account, issued.code)  # the same token: the code is used up too


def test_a_code_works_once(container: Container, account: Account) -> None:
    issued = issue(container, account)
    assert by_code(container, account, issued.code)
    assert not by_code(container, account, issued.code)
    assert not by_link(container, issued.link_token)


def test_the_token_returned_is_the_one_issued(container: Container, account: Account) -> None:
    issued = issue(container, account, target="new@example.fr")
    with container.uow() as uow:
        token = container.tokens.redeem_link(uow, issued.link_token, CONFIRM, container.clock.now())
        uow.commit()
    assert token is not None
    assert (token.id, token.account_id, token.target) == (issued.token.id, account.id, "new@example.fr")


def test_codes_may_be_typed_with_spaces(container: Container, account: Account) -> None:
    issued = issue(container, account)
    assert by_code(container, account, f" {issued.code[:3]} {issued.code[3:]} ")


def test_tokens_expire(container: Container, clock: FrozenClock, account: Account) -> None:
    first = issue(container, account)
    clock.advance(minutes=59, seconds=59)
    assert by_code(container, account, first.code)
    second = issue(container, account)
    clock.advance(hours=1)
    assert not by_link(container, second.link_token)
    assert not by_code(container, account, second.code)


def test_five_wrong_codes_kill_the_code(container: Container, account: Account) -> None:
    issued = issue(container, account)
    for _ in range(MAX_CODE_ATTEMPTS):
        assert not by_code(container, account, wrong_code(issued.code))
    assert not by_code(container, account, issued.code)
    # The link cannot be guessed: mistyped codes do not take it from the person who received it.
    assert by_link(container, issued.link_token)


def test_four_wrong_codes_then_the_right_one(container: Container, account: Account) -> None:
    issued = issue(container, account)
    for _ in range(MAX_CODE_ATTEMPTS - 1):
        assert not by_code(container, account, wrong_code(issued.code))
    assert by_code(container, account, issued.code)


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "12345a", "１２３４５６", "x" * 200])
def test_malformed_codes_are_refused_and_counted(container: Container, account: Account, code: str) -> None:
    issued = issue(container, account)
    assert not by_code(container, account, code)
    with container.uow(readonly=True) as uow:
        token = uow.accounts.latest_token(account.id, CONFIRM)
    assert token is not None and token.code_attempts == 1
    assert by_code(container, account, issued.code)


def test_a_new_token_retires_the_old_one(container: Container, account: Account) -> None:
    old = issue(container, account)
    new = issue(container, account)
    assert not by_link(container, old.link_token)
    assert not by_code(container, account, old.code) or old.code == new.code
    assert by_link(container, new.link_token)


def test_a_new_token_of_another_purpose_leaves_the_first(container: Container, account: Account) -> None:
    confirm = issue(container, account)
    issue(container, account, TokenPurpose.RECOVERY)
    assert by_link(container, confirm.link_token)


def test_a_link_of_another_purpose_is_refused(container: Container, account: Account) -> None:
    issued = issue(container, account, TokenPurpose.RECOVERY)
    assert not by_link(container, issued.link_token, CONFIRM)
    assert not by_link(container, issued.link_token, TokenPurpose.CHANGE_EMAIL)
    assert not by_code(container, account, issued.code, CONFIRM)
    assert by_link(container, issued.link_token, TokenPurpose.RECOVERY)  # refusals did not use it


def test_a_code_is_bound_to_its_account(container: Container, account: Account) -> None:
    other = create_account(container, demo_tenant(container), "other@example.fr", verified=False)
    mine = issue(container, account)
    theirs = issue(container, other)
    assert not by_code(container, other, mine.code) or mine.code == theirs.code
    assert by_code(container, account, mine.code)


@pytest.mark.parametrize("link", ["", "x", "y" * 129, "not-a-token-we-issued-0123456789abcdefghijklmno"])
def test_unknown_links_are_refused(container: Container, account: Account, link: str) -> None:
    issue(container, account)
    assert not by_link(container, link)


def test_codes_are_six_random_digits(container: Container, account: Account) -> None:
    codes = {issue(container, account).code for _ in range(40)}
    assert all(re.fullmatch(r"\d{6}", code) for code in codes)
    assert len(codes) > 35  # random, not a counter


def test_links_are_long_and_random(container: Container, account: Account) -> None:
    links = {issue(container, account).link_token for _ in range(5)}
    assert len(links) == 5
    assert all(len(link) >= 43 for link in links)  # 256 bits


def test_only_hashes_are_stored(container: Container, account: Account) -> None:
    issued = issue(container, account, target="camille.martin@example.fr")
    with container.database.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM account_tokens")).mappings().all()
    (row,) = rows
    stored = " ".join(str(value) for value in row.values())
    assert issued.link_token not in stored
    assert re.fullmatch(r"[0-9a-f]{64}", row["link_hash"]) and re.fullmatch(r"[0-9a-f]{64}", row["code_hash"])
    # The code is in no other column. (In the digests, hex noise, any 6 digits turn up by chance.)
    assert issued.code not in " ".join(str(value) for key, value in row.items() if not key.endswith("_hash"))


# -- parallel guesses: exactly five tries, whatever the concurrency -----------------------------------


@pytest.fixture(params=["sqlite_url", "postgres_url"])
def shared_container(request: pytest.FixtureRequest, settings: Settings, clock: FrozenClock) -> Iterator[Container]:
    """A container on SQLite or on PostgreSQL, whatever SESAME_TEST_DB says."""
    url = str(request.getfixturevalue(request.param))
    built = build_container(settings.model_copy(update={"database_url": url}), clock=clock)
    yield built
    built.close()


def test_parallel_wrong_codes_get_five_tries_in_all(shared_container: Container) -> None:
    container = shared_container
    account = create_account(container, demo_tenant(container), verified=False)
    issued = issue(container, account)
    guesses = 40
    start = threading.Barrier(guesses)

    def guess(_: int) -> bool:
        start.wait()
        return by_code(container, account, wrong_code(issued.code))

    with ThreadPoolExecutor(max_workers=guesses) as pool:
        results = list(pool.map(guess, range(guesses)))
    with container.uow(readonly=True) as uow:
        token = uow.accounts.latest_token(account.id, CONFIRM)
    assert token is not None
    assert not any(results)
    assert token.code_attempts == MAX_CODE_ATTEMPTS  # not one comparison more, whatever the race
    assert not by_code(container, account, issued.code)
    assert by_link(container, issued.link_token)
