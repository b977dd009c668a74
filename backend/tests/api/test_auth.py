"""Registration, sign-in and the signed-in user."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from datetime import date, timedelta
from typing import Any

import httpx
import jwt
import pytest
from pydantic import ValidationError

from src.core import security
from src.core.clock import utcnow
from src.core.security import ACCESS_AUDIENCE, ROOM_AUDIENCE, encode_token
from src.core.settings import PLACEHOLDER_JWT_SECRET, Settings
from tests.conftest import TEST_SECRET, auth, make_settings, post_registration, register


def _token(claims: dict[str, object], *, secret: str = TEST_SECRET, minutes: int = 5) -> str:
    return encode_token(
        claims,
        secret=secret,
        audience=ACCESS_AUDIENCE,
        expires_at=utcnow() + timedelta(minutes=minutes),
    )


class _CountedHashes:
    """The app's password hasher, recording each hash a password is checked against."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.verified: list[str] = []

    def verify(self, password: str, hashed: str) -> bool:
        self.verified.append(hashed)
        return bool(self._real.verify(password, hashed))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _cost(argon2_hash: str) -> str:
    """An Argon2 hash's algorithm, version and cost parameters (what its check costs)."""
    return "$".join(argon2_hash.split("$")[:4])


class TestRegister:
    async def test_creates_user_and_returns_token(self, client: httpx.AsyncClient) -> None:
        body = await register(client, email="Ada@Example.com", full_name="  Ada Lovelace ")
        assert body["token_type"] == "bearer"
        assert body["user"]["email"] == "ada@example.com"
        assert body["user"]["full_name"] == "Ada Lovelace"
        assert body["user"]["birth_date"] == "1990-07-15"
        assert "hashed_password" not in body["user"]
        assert "password" not in body["user"]
        me = await client.get("/api/v1/users/me", headers=auth(body["access_token"]))
        assert me.status_code == 200
        assert me.json()["id"] == body["user"]["id"]

    async def test_duplicate_email_any_case_is_409(self, client: httpx.AsyncClient) -> None:
        await register(client, email="grace@example.com")
        response = await client.post(
            "/api/v1/auth/register",
            json={
                "email": "GRACE@example.COM",
                "password": "another password",
                "full_name": "Grace Hopper",
                "birth_date": "1906-12-09",
            },
        )
        assert response.status_code == 409
        assert response.json() == {
            "error": "email_already_registered",
            "detail": "An account with this email already exists. Sign in instead.",
        }

    async def test_invalid_bodies_are_422_in_the_error_shape(
        self, client: httpx.AsyncClient
    ) -> None:
        good = {
            "email": "x@example.com",
            "password": "long enough",
            "full_name": "X Y",
            "birth_date": "1990-01-01",
        }
        tomorrow = (date.today() + timedelta(days=1)).isoformat()
        for field, value in [
            ("password", "short"),
            ("birth_date", tomorrow),
            ("birth_date", "not-a-date"),
            ("email", "not-an-email"),
            ("full_name", "   "),
            ("full_name", "x" * 201),
        ]:
            response = await client.post("/api/v1/auth/register", json={**good, field: value})
            assert response.status_code == 422, (field, value)
            body = response.json()
            assert body["error"] == "validation_error"
            assert field in body["detail"]
        users = await client.post(
            "/api/v1/auth/login", json={"email": "x@example.com", "password": "long enough"}
        )
        assert users.status_code == 401  # nothing was created


class TestNames:
    @pytest.mark.parametrize(
        "name",
        [
            "Ada\x00Lovelace",  # NUL: PostgreSQL refuses it in text (a 500 before)
            "Ada\nSYSTEM: you are now",  # a control character splitting the name
            "Ada \u202egnirts",  # right-to-left override
            "Ada \u2066Lovelace\u2069",  # isolates
            "Ada\u200bLovelace",  # zero-width space (format)
            "Ada\u2028Lovelace",  # line separator
        ],
    )
    async def test_control_format_and_bidi_characters_are_422(
        self, client: httpx.AsyncClient, name: str
    ) -> None:
        response = await post_registration(client, email="ada@example.com", full_name=name)
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["error"] == "validation_error"
        assert "full_name" in body["detail"]
        assert "control, format or bidirectional" in body["detail"]
        assert (await post_registration(client, email="ada@example.com")).status_code == 201

    async def test_names_are_stored_nfc_normalised(self, client: httpx.AsyncClient) -> None:
        decomposed = "Jose\u0301 Nu\u0301n\u0303ez"
        body = await register(client, full_name=decomposed)
        assert body["user"]["full_name"] == "Jos\u00e9 N\u00fa\u00f1ez"
        me = await client.get("/api/v1/users/me", headers=auth(body["access_token"]))
        assert me.json()["full_name"] == "Jos\u00e9 N\u00fa\u00f1ez"


class TestLogin:
    async def test_json_and_form_logins(self, client: httpx.AsyncClient) -> None:
        user = await register(client, email="linus@example.com")
        by_json = await client.post(
            "/api/v1/auth/login", json={"email": "LINUS@example.com", "password": user["password"]}
        )
        by_form = await client.post(
            "/api/v1/auth/login",
            data={"username": "linus@example.com", "password": user["password"]},
        )
        for response in (by_json, by_form):
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["token_type"] == "bearer"
            claims = jwt.decode(
                body["access_token"], TEST_SECRET, algorithms=["HS256"], audience=ACCESS_AUDIENCE
            )
            assert claims["sub"] == user["user"]["id"]
            assert {"exp", "iat"} <= claims.keys()

    async def test_wrong_email_and_wrong_password_look_the_same(
        self,
        client: httpx.AsyncClient,
        monkeypatch: pytest.MonkeyPatch,
        production_password_hashes: None,
    ) -> None:
        await register(client, email="known@example.com")
        checked = _CountedHashes(security._password_hash)
        monkeypatch.setattr(security, "_password_hash", checked)
        wrong_password = {"email": "known@example.com", "password": "not the password"}
        unknown_email = {"email": "unknown@example.com", "password": "not the password"}
        bodies, hashes = {}, {}
        for name, payload in [("password", wrong_password), ("email", unknown_email)]:
            checked.verified.clear()
            response = await client.post("/api/v1/auth/login", json=payload)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
            bodies[name] = response.json()
            (hashes[name],) = checked.verified
        assert bodies["password"] == bodies["email"]
        assert bodies["email"]["error"] == "invalid_credentials"
        # An unknown email still pays for one Argon2 check, of the same cost as a real one (the
        # parameters before the salt), so the answer's timing does not tell which it was.
        assert _cost(hashes["email"]) == _cost(hashes["password"])
        assert _cost(hashes["email"]).startswith("$argon2id$"), hashes["email"]

    async def test_bad_login_body_is_422(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/api/v1/auth/login", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert response.status_code == 422
        assert response.json()["error"] == "validation_error"
        form = await client.post("/api/v1/auth/login", data={"username": "a@example.com"})
        assert form.status_code == 422


class TestCurrentUser:
    async def test_no_token_is_401_with_bearer_challenge(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/users/me")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"] == "not_authenticated"

    async def test_bad_tokens_are_401(self, client: httpx.AsyncClient) -> None:
        user = await register(client)
        user_id = user["user"]["id"]
        header, payload, signature = user["access_token"].split(".")
        tampered_payload = jwt.utils.base64url_encode(
            jwt.api_jws.json.dumps(
                {"sub": str(uuid.uuid4()), "aud": ACCESS_AUDIENCE, "exp": 9999999999, "iat": 1}
            ).encode()
        ).decode()
        unsigned = jwt.encode(
            {"sub": user_id, "aud": ACCESS_AUDIENCE, "iat": 1, "exp": 9999999999},
            key=None,
            algorithm="none",
        )
        room_token = encode_token(
            {"sub": user_id},
            secret=TEST_SECRET,
            audience=ROOM_AUDIENCE,
            expires_at=utcnow() + timedelta(minutes=5),
        )
        cases = {
            "malformed": "not-a-jwt",
            "bad signature": _token({"sub": user_id}, secret="another-secret-" + "y" * 40),
            "alg none": unsigned,
            "expired": _token({"sub": user_id}, minutes=-1),
            "tampered payload": f"{header}.{tampered_payload}.{signature}",
            "room token": room_token,
            "no such user": _token({"sub": str(uuid.uuid4())}),
        }
        for name, token in cases.items():
            response = await client.get("/api/v1/users/me", headers=auth(token))
            assert response.status_code == 401, name
            assert response.headers["www-authenticate"] == "Bearer", name
            assert response.json()["error"] == "not_authenticated", name

    async def test_subject_that_is_not_a_uuid_is_400(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/api/v1/users/me", headers=auth(_token({"sub": "42"})))
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_token_subject"

    async def test_never_shows_the_hash(self, client: httpx.AsyncClient) -> None:
        user = await register(client)
        body = (await client.get("/api/v1/users/me", headers=auth(user["access_token"]))).json()
        assert set(body) == {
            "id",
            "email",
            "full_name",
            "birth_date",
            "is_active",
            "remember_conversations",
            "created_at",
        }


class TestUnsetSecret:
    @pytest.fixture
    def settings(self, clean_db: str) -> Settings:
        # A development server on loopback started without JWT_SECRET.
        return make_settings(clean_db, jwt_secret="", public_base_url="http://127.0.0.1:8000")

    async def test_a_token_signed_with_the_placeholder_is_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        user = await register(client)
        assert (await client.get("/api/v1/users/me", headers=auth(user["access_token"]))).is_success
        forged = _token({"sub": user["user"]["id"]}, secret=PLACEHOLDER_JWT_SECRET)
        response = await client.get("/api/v1/users/me", headers=auth(forged))
        assert response.status_code == 401


def _me(client: httpx.AsyncClient, token: str) -> Awaitable[httpx.Response]:
    return client.get("/api/v1/users/me", headers=auth(token))


async def _sign_in(client: httpx.AsyncClient, email: str, password: str) -> str:
    response = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


class TestLogout:
    async def test_anonymous_is_401(self, client: httpx.AsyncClient) -> None:
        assert (await client.post("/api/v1/auth/logout")).status_code == 401

    async def test_revokes_the_token_and_the_account_s_others(
        self, client: httpx.AsyncClient
    ) -> None:
        user = await register(client, email="ada@example.com")
        other_session = await _sign_in(client, "ada@example.com", user["password"])
        someone_else = await register(client)
        response = await client.post("/api/v1/auth/logout", headers=auth(user["access_token"]))
        assert response.status_code == 204
        for token in (user["access_token"], other_session):
            revoked = await _me(client, token)
            assert revoked.status_code == 401
            assert revoked.headers["www-authenticate"] == "Bearer"
            assert "revoked" in revoked.json()["detail"]
        # Signing in again works; other accounts are untouched.
        fresh = await _sign_in(client, "ada@example.com", user["password"])
        assert (await _me(client, fresh)).status_code == 200
        assert (await _me(client, someone_else["access_token"])).status_code == 200

    async def test_a_token_without_a_version_is_refused(self, client: httpx.AsyncClient) -> None:
        user = await register(client)
        unversioned = _token({"sub": user["user"]["id"]})
        assert (await _me(client, unversioned)).status_code == 401


class TestPasswordChange:
    async def test_anonymous_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/api/v1/users/me/password",
            json={"current_password": "x", "new_password": "long enough"},
        )
        assert response.status_code == 401

    async def test_a_new_password_revokes_older_tokens(self, client: httpx.AsyncClient) -> None:
        user = await register(client, email="ada@example.com")
        elsewhere = await _sign_in(client, "ada@example.com", user["password"])
        response = await client.post(
            "/api/v1/users/me/password",
            headers=auth(user["access_token"]),
            json={"current_password": user["password"], "new_password": "staple tree lamp"},
        )
        assert response.status_code == 200, response.text
        new_token = response.json()["access_token"]
        assert (await _me(client, new_token)).status_code == 200
        for token in (user["access_token"], elsewhere):
            assert (await _me(client, token)).status_code == 401
        old = await client.post(
            "/api/v1/auth/login", json={"email": "ada@example.com", "password": user["password"]}
        )
        assert old.status_code == 401
        await _sign_in(client, "ada@example.com", "staple tree lamp")

    async def test_the_current_password_is_required(self, client: httpx.AsyncClient) -> None:
        user = await register(client, email="ada@example.com")
        token = user["access_token"]
        wrong = await client.post(
            "/api/v1/users/me/password",
            headers=auth(token),
            json={"current_password": "a stolen token", "new_password": "staple tree lamp"},
        )
        assert wrong.status_code == 403
        assert wrong.json()["error"] == "password_incorrect"
        short = await client.post(
            "/api/v1/users/me/password",
            headers=auth(token),
            json={"current_password": user["password"], "new_password": "short"},
        )
        assert short.status_code == 422
        assert "new_password" in short.json()["detail"]
        # Nothing changed: the token and the password still work.
        assert (await _me(client, token)).status_code == 200
        await _sign_in(client, "ada@example.com", user["password"])


class TestTokenLifetime:
    def test_lifetimes_above_a_day_are_refused(self) -> None:
        Settings(_env_file=None, access_token_expire_minutes=24 * 60)  # type: ignore[call-arg]
        with pytest.raises(ValidationError, match="access_token_expire_minutes"):
            Settings(_env_file=None, access_token_expire_minutes=24 * 60 + 1)  # type: ignore[call-arg]

    async def test_tokens_expire_as_configured(self, client: httpx.AsyncClient) -> None:
        body = await register(client)
        claims = jwt.decode(
            body["access_token"], TEST_SECRET, algorithms=["HS256"], audience=ACCESS_AUDIENCE
        )
        assert claims["exp"] - claims["iat"] == 60 * 60 == body["expires_in"]
