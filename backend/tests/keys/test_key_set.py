"""GET /.well-known/jwks.json and the authorization server metadata: public members only,
cacheable, the issuer equal to the tokens' iss; in HS256 mode an empty set."""

import jwt
import pytest

from app.core.signing_keys import thumbprint
from tests.helpers import bearer, client_of, fresh_app, login

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


async def test_jwks_publishes_the_active_key_with_public_members_only(client, ring):
    response = await client.get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/jwk-set+json"
    assert response.headers["cache-control"] == "public, max-age=900"
    (key,) = response.json()["keys"]
    assert key["kty"] == "RSA"
    assert key["alg"] == "RS256"
    assert key["use"] == "sig"
    assert not PRIVATE_MEMBERS & set(key)


async def test_the_kid_is_the_rfc7638_thumbprint_of_the_public_key(client, make_user):
    user = await make_user()
    token = (await login(client, user.email))["access_token"]
    (key,) = (await client.get("/.well-known/jwks.json")).json()["keys"]

    assert jwt.get_unverified_header(token)["kid"] == key["kid"] == thumbprint(key)


def test_the_thumbprint_of_the_rfc7638_example_key():
    # RFC 7638 §3.1: the example RSA key and its thumbprint.
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
        "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Qv"
        "zqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6"
        "WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    )

    assert thumbprint({"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}) == (
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    )


async def test_jwks_is_empty_with_an_hmac_algorithm(database_url, clean_database):
    async with (
        fresh_app(database_url, jwt_algorithm="HS256") as application,
        client_of(application) as http,
    ):
        response = await http.get("/.well-known/jwks.json")

    assert response.status_code == 200
    assert response.json() == {"keys": []}


async def test_the_metadata_issuer_is_public_url_and_equals_the_tokens_iss(database_url, make_user):
    user = await make_user()
    async with (
        fresh_app(database_url, public_url="https://auth.example.com/") as application,
        client_of(application) as http,
    ):
        metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
        token = (await login(http, user.email))["access_token"]

    claims = jwt.decode(token, options={"verify_signature": False})
    assert metadata["issuer"] == claims["iss"] == "https://auth.example.com"
    assert metadata["jwks_uri"] == "https://auth.example.com/.well-known/jwks.json"
    assert metadata["token_endpoint"] == "https://auth.example.com/auth/login"
    assert metadata["revocation_endpoint"] == "https://auth.example.com/auth/revoke"
    assert metadata["introspection_endpoint"] == "https://auth.example.com/auth/introspect"
    assert {"password", "refresh_token", "client_credentials"} <= set(
        metadata["grant_types_supported"]
    )
    assert metadata["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
    ]


@pytest.mark.parametrize(("algorithm", "kty"), [("ES256", "EC"), ("EdDSA", "OKP")])
async def test_each_asymmetric_algorithm_signs_and_publishes_its_key(
    database_url, make_user, algorithm, kty
):
    user = await make_user()
    async with (
        fresh_app(database_url, jwt_algorithm=algorithm) as application,
        client_of(application) as http,
    ):
        token = (await login(http, user.email))["access_token"]
        me = await http.get("/users/me", headers=bearer(token))
        (key,) = (await http.get("/.well-known/jwks.json")).json()["keys"]

    assert me.status_code == 200, me.text
    assert jwt.get_unverified_header(token)["alg"] == key["alg"] == algorithm
    assert key["kty"] == kty
    assert jwt.get_unverified_header(token)["kid"] == key["kid"] == thumbprint(key)
