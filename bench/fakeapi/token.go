package main

// The Entra ID v2 token endpoint, client credentials with a client secret only:
// POST /{tenant}/oauth2/v2.0/token with grant_type=client_credentials, client_id, client_secret
// (or HTTP Basic) and scope=<resource>/.default. The access token is a JWT signed with HS256 and
// a key of this process; the forwarder decodes its claims (core/src/auth/jwt.c: tid, aud, roles,
// exp) and the list APIs verify it.

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

var appRoles = []string{"SecurityAlert.Read.All", "SecurityIncident.Read.All", "Alert.Read.All",
	"Incident.Read.All"}

// resources the token endpoint issues tokens for (App ID URIs, without /.default)
var resources = map[string]bool{
	"https://graph.microsoft.com":                              true,
	"https://api.securitycenter.microsoft.com":                 true,
	"https://securitycenter.onmicrosoft.com/windowsatpservice": true,
	"https://api.securitycenter.windows.com":                   true,
	"https://api.security.microsoft.com":                       true,
}

type claims struct {
	Aud    string   `json:"aud"`
	Iss    string   `json:"iss"`
	Iat    int64    `json:"iat"`
	Nbf    int64    `json:"nbf"`
	Exp    int64    `json:"exp"`
	Azp    string   `json:"azp"`
	Azpacr string   `json:"azpacr"`
	Roles  []string `json:"roles"`
	Tid    string   `json:"tid"`
	Ver    string   `json:"ver"`
}

type signer struct {
	key      []byte
	lifetime int64 // seconds
}

func newSigner(lifetime int64) *signer {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic(err)
	}
	return &signer{key: key, lifetime: lifetime}
}

var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT","alg":"HS256","kid":"bench"}`))

func (s *signer) mac(signingInput string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(signingInput))
	return m.Sum(nil)
}

func (s *signer) sign(c *claims) string {
	payload, _ := json.Marshal(c)
	in := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(payload)
	return in + "." + base64.RawURLEncoding.EncodeToString(s.mac(in))
}

// verify returns the claims of a token this process issued that has not expired.
func (s *signer) verify(token string, now time.Time) (*claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("The access token is malformed.")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, s.mac(parts[0]+"."+parts[1])) {
		return nil, errors.New("The access token signature is invalid.")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c claims
	if err != nil || json.Unmarshal(payload, &c) != nil {
		return nil, errors.New("The access token is malformed.")
	}
	if c.Exp <= now.Unix() {
		return nil, errors.New("Lifetime validation failed, the token is expired.")
	}
	return &c, nil
}

type aadError struct {
	status int
	code   int
	error  string
	text   string
}

func (e *aadError) body() []byte {
	now := time.Now().UTC().Format("2006-01-02 15:04:05Z")
	b, _ := json.Marshal(map[string]any{
		"error":             e.error,
		"error_description": fmt.Sprintf("AADSTS%d: %s\r\nTimestamp: %s", e.code, e.text, now),
		"error_codes":       []int{e.code},
		"timestamp":         now,
	})
	return b
}

func (srv *server) token(w http.ResponseWriter, r *http.Request, segment string) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	body, aerr := srv.issue(r, segment)
	if aerr != nil {
		srv.stats.tokenErrors.Add(1)
		writeJSON(w, aerr.status, aerr.body())
		return
	}
	srv.stats.tokens.Add(1)
	writeJSON(w, http.StatusOK, body)
}

func (srv *server) issue(r *http.Request, segment string) ([]byte, *aadError) {
	ti, ok := srv.index.find(segment)
	if !ok {
		return nil, &aadError{400, 90002, "invalid_request",
			fmt.Sprintf("Tenant '%s' not found.", segment)}
	}
	t := &srv.tenants[ti]
	if err := r.ParseForm(); err != nil {
		return nil, &aadError{400, 900144, "invalid_request", "The request body is not a form."}
	}
	form := r.PostForm
	if g := form.Get("grant_type"); g != "client_credentials" {
		if g == "" {
			return nil, &aadError{400, 900144, "invalid_request",
				"The request body must contain the following parameter: 'grant_type'."}
		}
		return nil, &aadError{400, 70003, "unsupported_grant_type",
			fmt.Sprintf("The benchmark API supports only client_credentials, not '%s'.", g)}
	}
	clientID, secret := form.Get("client_id"), form.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		clientID, secret = u, p
	}
	if clientID != t.ClientID {
		return nil, &aadError{400, 700016, "unauthorized_client", fmt.Sprintf(
			"Application with identifier '%s' was not found in the directory '%s'.", clientID,
			t.TenantID)}
	}
	if form.Get("client_assertion") != "" {
		return nil, &aadError{401, 700027, "invalid_client",
			"The benchmark API accepts client secrets only."}
	}
	if secret == "" {
		return nil, &aadError{401, 7000218, "invalid_client",
			"The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
	}
	if !hmac.Equal([]byte(secret), []byte(t.secret)) {
		return nil, &aadError{401, 7000215, "invalid_client", fmt.Sprintf(
			"Invalid client secret provided for app '%s'.", clientID)}
	}
	scope := form.Get("scope")
	resource, ok := strings.CutSuffix(scope, "/.default")
	if !ok || strings.ContainsAny(scope, " ") {
		return nil, &aadError{400, 1002012, "invalid_scope", fmt.Sprintf(
			"The provided value for scope %s is not valid. Client credential flows must have a "+
				"scope value with /.default suffixed to the resource identifier.", scope)}
	}
	if !resources[resource] {
		return nil, &aadError{400, 500011, "invalid_resource", fmt.Sprintf(
			"The resource principal named %s was not found in the tenant named %s.", resource,
			t.TenantID)}
	}
	now := time.Now().Unix()
	tok := srv.signer.sign(&claims{
		Aud: resource, Iss: "https://login.microsoftonline.com/" + t.TenantID + "/v2.0",
		Iat: now, Nbf: now, Exp: now + srv.signer.lifetime, Azp: t.ClientID, Azpacr: "1",
		Roles: appRoles, Tid: t.TenantID, Ver: "2.0",
	})
	b, _ := json.Marshal(map[string]any{"token_type": "Bearer", "expires_in": srv.signer.lifetime,
		"ext_expires_in": srv.signer.lifetime, "access_token": tok})
	return b, nil
}
