"""GET /numerology/me and POST /numerology/calculate."""

from __future__ import annotations

from datetime import date, timedelta

import httpx

from tests.conftest import auth, register

KINDS = {
    "life_path",
    "expression",
    "soul_urge",
    "personality",
    "birthday",
    "maturity",
    "personal_year",
}


class TestMe:
    async def test_anonymous_is_401(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/api/v1/numerology/me")).status_code == 401

    async def test_the_users_profile(self, client: httpx.AsyncClient) -> None:
        user = await register(client, full_name="Ada Lovelace", birth_date=date(1984, 7, 5))
        response = await client.get("/api/v1/numerology/me", headers=auth(user["access_token"]))
        assert response.status_code == 200
        body = response.json()
        assert body["full_name"] == "Ada Lovelace"
        assert body["year"] == date.today().year
        assert set(body["numbers"]) == KINDS
        # 1984-07-05: 7 + 5 + 22 = 34 -> 7; Ada Lovelace: 6 + 3 = 9; maturity 7 + 9 = 16 -> 7.
        assert body["numbers"]["life_path"]["value"] == 7
        assert body["numbers"]["expression"]["value"] == 9
        assert body["numbers"]["maturity"]["value"] == 7
        assert body["numbers"]["life_path"]["reading"].startswith("Your life path is 7")
        assert body["numbers"]["expression"]["title"] == "The Humanitarian"


class TestCalculate:
    async def test_any_name_and_date(self, client: httpx.AsyncClient) -> None:
        token = (await register(client))["access_token"]
        response = await client.post(
            "/api/v1/numerology/calculate",
            json={"full_name": "José Ñúñez", "birth_date": "1984-07-05", "year": 2026},
            headers=auth(token),
        )
        assert response.status_code == 200
        numbers = response.json()["numbers"]
        assert numbers["expression"]["value"] == 3
        assert numbers["life_path"]["value"] == 7
        assert numbers["life_path"]["chain"] == [34, 7]
        assert response.json()["year"] == 2026

    async def test_bad_input_is_422(self, client: httpx.AsyncClient) -> None:
        token = (await register(client))["access_token"]
        good = {"full_name": "Ada Lovelace", "birth_date": "1815-12-10"}
        tomorrow = (date.today() + timedelta(days=1)).isoformat()
        cases = [
            ({"birth_date": tomorrow}, "validation_error"),
            ({"birth_date": "not a date"}, "validation_error"),
            ({"full_name": ""}, "validation_error"),
            ({"full_name": "   "}, "validation_error"),
            ({"full_name": "x" * 10_000}, "validation_error"),
            ({"full_name": "1234 ---"}, "invalid_numerology_input"),
            ({"year": 99999}, "validation_error"),
            ({"full_name": None}, "validation_error"),
        ]
        for change, code in cases:
            response = await client.post(
                "/api/v1/numerology/calculate", json={**good, **change}, headers=auth(token)
            )
            assert response.status_code == 422, change
            assert response.json()["error"] == code, change
            assert response.json()["detail"]
        anonymous = await client.post("/api/v1/numerology/calculate", json=good)
        assert anonymous.status_code == 401
