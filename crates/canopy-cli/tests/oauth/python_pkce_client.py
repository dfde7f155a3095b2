"""The official Python MCP SDK's OAuth client (`OAuthClientProvider`) against `canopy serve
--http --auth-issuer` and the tests' authorization server (oidc-provider): a full
authorization-code + PKCE flow, driven by crates/canopy-cli/tests/serve_oauth.rs.

The SDK does every protocol step itself: the 401 with `resource_metadata`, Protected
Resource Metadata discovery, authorization server discovery, dynamic client registration,
the authorization request with PKCE (S256) and `resource` (RFC 8707), the token exchange.
The one step a person takes — signing in and consenting in a browser — is done headlessly
here: the redirect is followed programmatically and the authorization server's login and
consent forms are posted (oidc-provider's development interactions accept any login).

Usage: python_pkce_client.py URL LOGIN
Prints `ok <check>` per passed check; exits non-zero with a message on the first failure.
"""

import base64
import json
import re
import sys
from urllib.parse import parse_qs, urljoin, urlparse

import anyio
import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

REDIRECT_URI = "http://127.0.0.1:9/callback"  # never contacted: the redirect is read, not followed


def expect(condition, message):
    if not condition:
        print(f"FAILED: {message}", flush=True)
        sys.exit(1)


class MemoryStorage(TokenStorage):
    def __init__(self):
        self.tokens = None
        self.client_info = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class HeadlessBrowser:
    """Follows the authorization redirect like a browser whose user signs in as `login` and
    consents, and keeps the redirect back to the client for the callback handler."""

    def __init__(self, login: str):
        self.login = login
        self.result = None
        self.seen_authorization_url = None

    async def redirect(self, authorization_url: str) -> None:
        self.seen_authorization_url = authorization_url
        async with httpx2.AsyncClient(follow_redirects=False, timeout=30) as http:
            response = await http.get(authorization_url)
            for _ in range(20):
                if response.is_redirect:
                    location = urljoin(str(response.url), response.headers["location"])
                    if location.startswith(REDIRECT_URI):
                        query = parse_qs(urlparse(location).query)
                        expect("code" in query, f"the redirect carries a code: {location}")
                        self.result = AuthorizationCodeResult(
                            code=query["code"][0],
                            state=query.get("state", [None])[0],
                            iss=query.get("iss", [None])[0],
                        )
                        return
                    response = await http.get(location)
                    continue
                expect(response.status_code == 200, f"{response.status_code} {response.text[:500]}")
                prompt = re.search(r'name="prompt" value="(\w+)"', response.text)
                expect(prompt is not None, f"a login or consent form: {response.text[:500]}")
                form = {"prompt": prompt.group(1)}
                if prompt.group(1) == "login":
                    form.update(login=self.login, password="any")
                response = await http.post(str(response.url), data=form)
            expect(False, "the authorization server never redirected back")

    async def callback(self) -> AuthorizationCodeResult:
        expect(self.result is not None, "the redirect handler ran first")
        return self.result


async def main(url: str, login: str) -> None:
    browser = HeadlessBrowser(login)
    storage = MemoryStorage()
    provider = OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="canopy python pkce test",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=browser.redirect,
        callback_handler=browser.callback,
    )
    async with httpx2.AsyncClient(auth=provider, timeout=30) as http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode="legacy") as client:
            expect(storage.client_info is not None, "the client registered itself (RFC 7591)")
            print(f"ok registered {storage.client_info.client_id}", flush=True)
            auth_url = browser.seen_authorization_url or ""
            expect("code_challenge_method=S256" in auth_url, auth_url)
            expect("resource=" in auth_url, f"the resource indicator in {auth_url}")
            print("ok pkce_and_resource", flush=True)
            expect(storage.tokens is not None and storage.tokens.access_token, "a token")
            part = storage.tokens.access_token.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
            audience = claims["aud"] if isinstance(claims["aud"], str) else ",".join(claims["aud"])
            print(f"ok token sub={claims['sub']} aud={audience} scope={claims.get('scope')}", flush=True)
            names = [tool.name for tool in (await client.list_tools()).tools]
            expect(any(name.endswith("web__search") for name in names), f"web__search in {names}")
            print("ok list_tools", flush=True)
            result = await client.call_tool("research__web__search", {"query": "rust"})
            expect(result.content[0].text == "https://example.org/rust", f"{result}")
            print("ok call_tool", flush=True)

if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2])
