package main

// Tenant identities: names t00001..., tenant and client ids (GUIDs) and client secrets derived
// from the seed, so that the API and the benchmark script agree without sharing state.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

type tenant struct {
	Name       string `json:"name"`
	TenantID   string `json:"tenant_id"`
	ClientID   string `json:"client_id"`
	SecretFile string `json:"secret_file"`
	secret     string
}

func guid(h1, h2 uint64) string {
	// RFC 9562 version 4 layout (the random bits come from the seed)
	h1 = h1&^0xf000 | 0x4000
	h2 = h2&^(0xc<<60) | 0x8<<60
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", h1>>32, (h1>>16)&0xffff, h1&0xffff, h2>>48,
		h2&0xffffffffffff)
}

func tenantName(i int) string {
	return fmt.Sprintf("t%05d", i+1)
}

func makeTenants(m *model) []tenant {
	out := make([]tenant, m.p.Tenants)
	for i := range out {
		mac := hmac.New(sha256.New, []byte(m.p.Seed))
		fmt.Fprintf(mac, "client secret of tenant %d", i)
		out[i] = tenant{
			Name:     tenantName(i),
			TenantID: guid(m.hash(i, 0, -1, 't'), m.hash(i, 1, -1, 't')),
			ClientID: guid(m.hash(i, 0, -1, 'c'), m.hash(i, 1, -1, 'c')),
			secret:   base64.RawURLEncoding.EncodeToString(mac.Sum(nil))[:34],
		}
	}
	return out
}

// writeSecrets writes each tenant's client secret to dir/NAME.secret with mode 0600.
func writeSecrets(ts []tenant, dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for i := range ts {
		path := filepath.Join(dir, ts[i].Name+".secret")
		if err := os.WriteFile(path, []byte(ts[i].secret+"\n"), 0o600); err != nil {
			return err
		}
		if err := os.Chmod(path, 0o600); err != nil { // an older file may have other bits
			return err
		}
		ts[i].SecretFile = path
	}
	return nil
}

// tenantIndex finds a tenant by tenant id (GUID, any case) or name.
type tenantIndex map[string]int

func indexTenants(ts []tenant) tenantIndex {
	idx := make(tenantIndex, 2*len(ts))
	for i, t := range ts {
		idx[strings.ToLower(t.TenantID)] = i
		idx[t.Name] = i
	}
	return idx
}

func (x tenantIndex) find(key string) (int, bool) {
	i, ok := x[strings.ToLower(key)]
	return i, ok
}
