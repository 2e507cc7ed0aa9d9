package storetest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/userimages/userimages/client/api"
	"golang.org/x/crypto/bcrypt"

	"userimages/core"
)

// OldAPIToken is an API token as the schemas before issue 24 kept it: its
// id was the token's first 12 characters, the rest was its bcrypt hash.
type OldAPIToken struct {
	Email string // its user's
	ID    string // Token[:12]
	Hash  []byte // bcrypt of Token[12:]
	Token string // as its user holds it
}

// TestAPITokenUpgrade checks that API tokens an older schema stored keep
// working after the upgrade and get new ids that are no part of them.
// upgrade must make a database at the schema version before the one that
// gave tokens their own ids (the version whose file is named
// *_token_ids.sql), write the users and tokens there as that version's
// schema has them, and return the store opened (and so upgraded) on it.
func TestAPITokenUpgrade(t *testing.T, upgrade func(t *testing.T, tokens []OldAPIToken) core.AccountStore) {
	ctx := t.Context()
	var old []OldAPIToken
	for _, email := range []string{"ann@example.com", "ann@example.com", "bob@example.com"} {
		var b [26]byte
		rand.Read(b[:])
		token := hex.EncodeToString(b[:])
		hash, err := bcrypt.GenerateFromPassword([]byte(token[12:]), bcrypt.MinCost)
		noErr(t, "bcrypt", err)
		old = append(old, OldAPIToken{Email: email, ID: token[:12], Hash: hash, Token: token})
	}
	store := upgrade(t, old)
	accounts, err := core.NewAccounts(core.Config{PasswordCost: bcrypt.MinCost}, core.AccountsDeps{Accounts: store})
	noErr(t, "NewAccounts", err)

	seen := map[string]bool{}
	for _, email := range []string{"ann@example.com", "bob@example.com"} {
		listed, err := accounts.APITokens(ctx, email)
		noErr(t, "APITokens("+email+")", err)
		for _, tok := range listed {
			for _, o := range old {
				if tok.ID == o.ID || strings.Contains(o.Token, tok.ID) {
					t.Errorf("upgraded token id %q: it is (a part of) token %s", tok.ID, o.Token)
				}
			}
			if !strings.HasPrefix(tok.ID, "tok_") || len(tok.ID) != len("tok_")+16 || seen[tok.ID] {
				t.Errorf("upgraded token id %q: want tok_ and 16 hex digits, distinct", tok.ID)
			}
			seen[tok.ID] = true
		}
	}
	if len(seen) != len(old) {
		t.Fatalf("APITokens after the upgrade: got %d tokens, want %d", len(seen), len(old))
	}
	for _, o := range old {
		for _, header := range []string{"Bearer " + o.Token, basicAuth(o.Email+api.APITokenUserSuffix, o.Token)} {
			uid, err := accounts.Authenticate(ctx, header, "192.0.2.1")
			if err != nil || uid == 0 {
				t.Errorf("an old token after the upgrade (%s): got user %d, %v, want its user", strings.Fields(header)[0], uid, err)
			}
		}
		if uid, err := accounts.Authenticate(ctx, "Bearer "+o.Token[:51]+"x", "192.0.2.1"); err == nil {
			t.Errorf("an old token with its last character changed: got user %d, want an error", uid)
		}
	}

	// Revoking by the new id refuses the token; the others still work.
	listed, err := accounts.APITokens(ctx, "bob@example.com")
	noErr(t, "APITokens(bob)", err)
	noErr(t, "RevokeAPIToken("+listed[0].ID+")", accounts.RevokeAPIToken(ctx, listed[0].ID))
	if uid, err := accounts.Authenticate(ctx, "Bearer "+old[2].Token, "192.0.2.1"); err == nil {
		t.Errorf("a revoked old token: got user %d, want an error", uid)
	}
	if _, err := accounts.Authenticate(ctx, "Bearer "+old[0].Token, "192.0.2.1"); err != nil {
		t.Errorf("another old token after a revocation: got %v, want nil", err)
	}
	if err := accounts.RevokeAPIToken(ctx, old[0].ID); err == nil {
		t.Errorf("RevokeAPIToken of an old id (the token's first 12 characters): got nil, want no such token")
	}
}

// basicAuth is an Authorization header with Basic user:password.
func basicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}
