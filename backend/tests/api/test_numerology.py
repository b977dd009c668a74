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
    "personal_month",
    "personal_day",
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
        assert body["on"] == date.today().isoformat()
        assert body["karmic_debts"] == []
        # Lucky: life path 7, birthday 5, expression 9; the days that reduce to 7.
        assert body["lucky"] == {"numbers": [7, 5, 9], "days": [7, 16, 25]}

    async def test_the_personal_month_and_day_of_a_date(self, client: httpx.AsyncClient) -> None:
        user = await register(client, full_name="Ada Lovelace", birth_date=date(1984, 7, 5))
        response = await client.get(
            "/api/v1/numerology/me", params={"on": "2026-11-22"}, headers=auth(user["access_token"])
        )
        assert response.status_code == 200
        body = response.json()
        assert (body["year"], body["on"]) == (2026, "2026-11-22")
        numbers = body["numbers"]
        # Personal year 2026: 7 + 5 + 1 = 13 -> 4; month: 4 + 11 = 15 -> 6; day: 6 + 22 = 28 -> 1.
        assert numbers["personal_year"]["value"] == 4
        assert numbers["personal_month"]["value"] == 6
        assert numbers["personal_month"]["chain"] == [15, 6]
        assert numbers["personal_day"]["value"] == 1
        assert numbers["personal_day"]["chain"] == [28, 10, 1]
        assert numbers["personal_day"]["reading"].startswith("This is a personal day 1.")
        for bad in ("tomorrow", "1700-01-01", "9999-01-01"):
            wrong = await client.get(
                "/api/v1/numerology/me", params={"on": bad}, headers=auth(user["access_token"])
            )
            assert wrong.status_code == 422, bad
            assert wrong.json()["error"] == "validation_error"


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

    async def test_cycle_date(self, client: httpx.AsyncClient) -> None:
        token = (await register(client))["access_token"]
        body = {"full_name": "Ada Lovelace", "birth_date": "1985-04-13", "on": "2027-02-09"}
        response = await client.post("/api/v1/numerology/calculate", json=body, headers=auth(token))
        assert response.status_code == 200
        data = response.json()
        # The year follows the date: 4 + 4 + reduce(2027) = 4 + 4 + 11 = 19 -> 1 (no masters).
        assert data["year"] == 2027
        assert data["numbers"]["personal_year"]["value"] == 1
        # Month 1 + 2 = 3; day 3 + 9 = 12 -> 3.
        assert data["numbers"]["personal_month"]["value"] == 3
        assert data["numbers"]["personal_day"]["value"] == 3
        # 1985-04-13: the life path 4 + 4 + 5 = 13 -> 4 and the birthday 13 -> 4 carry debt 13.
        debts = [(d["number"], d["kind"]) for d in data["karmic_debts"]]
        assert debts == [(13, "life_path"), (13, "birthday")]
        mismatch = await client.post(
            "/api/v1/numerology/calculate", json={**body, "year": 2026}, headers=auth(token)
        )
        assert mismatch.status_code == 422
        assert mismatch.json()["error"] == "validation_error"

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


class TestCompatibility:
    URL = "/api/v1/numerology/compatibility"

    async def test_with_the_signed_in_user(self, client: httpx.AsyncClient) -> None:
        user = await register(client, full_name="Ada Lovelace", birth_date=date(1984, 7, 5))
        response = await client.post(
            self.URL,
            json={"partner": {"birth_date": "1966-05-09"}},
            headers=auth(user["access_token"]),
        )
        assert response.status_code == 200
        body = response.json()
        # Life paths 7 (1984-07-05) and 5 + 9 + 22 = 36 -> 9: a 1-5-7 with a 3-6-9.
        assert body["pairs"] == [
            {"kind": "life_path", "first": 7, "second": 9, "level": "complementary", "score": 65}
        ]
        assert (body["score"], body["level"]) == (65, "complementary")
        assert "life paths are 7 and 9" in body["summary"]

    async def test_with_names(self, client: httpx.AsyncClient) -> None:
        token = (await register(client))["access_token"]
        response = await client.post(
            self.URL,
            json={
                "person": {"birth_date": "1984-07-05", "full_name": "Ada Lovelace"},
                "partner": {"birth_date": "1966-05-09", "full_name": "Maria Garcia"},
            },
            headers=auth(token),
        )
        assert response.status_code == 200
        body = response.json()
        # Expressions: Ada Lovelace 6 + 3 = 9; Maria 24 -> 6, Garcia 30 -> 3: 9. A mirror (80).
        assert body["pairs"][1] == {
            "kind": "expression",
            "first": 9,
            "second": 9,
            "level": "mirror",
            "score": 80,
        }
        assert body["score"] == 73  # (65 + 80) / 2 = 72.5, rounded half up

    async def test_bad_input(self, client: httpx.AsyncClient) -> None:
        token = (await register(client))["access_token"]
        tomorrow = (date.today() + timedelta(days=1)).isoformat()
        cases = [
            ({}, "validation_error"),
            ({"partner": {}}, "validation_error"),
            ({"partner": {"birth_date": tomorrow}}, "validation_error"),
            (
                {"partner": {"birth_date": "1990-01-01", "full_name": "x" * 10_000}},
                "validation_error",
            ),
            (
                {"partner": {"birth_date": "1990-01-01"}, "person": {"full_name": "Ada"}},
                "validation_error",
            ),
            (
                {
                    "partner": {"birth_date": "1990-01-01", "full_name": "1234"},
                    "person": {"birth_date": "1990-01-01", "full_name": "Ada"},
                },
                "invalid_numerology_input",
            ),
        ]
        for body, code in cases:
            response = await client.post(self.URL, json=body, headers=auth(token))
            assert response.status_code == 422, body
            assert response.json()["error"] == code, body
            assert response.json()["detail"]
        anonymous = await client.post(self.URL, json={"partner": {"birth_date": "1990-01-01"}})
        assert anonymous.status_code == 401
