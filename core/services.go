package core

import (
	"fmt"
	"log/slog"
	"time"
)

// The use cases of userimages, each a small service named for what it
// does and constructed with the store roles (store.go) it calls and
// nothing else:
//
//	Uploads     steps 1 to 3: create an upload, receive its bytes, claim them
//	Serving     published images and their variants; forgets taken-down ones
//	Moderation  takedowns, brands' removal, the blocklist, the audit log
//	Reports     readers' reports and their queue
//	Resemblance perceptual hashes: refusing pictures that look like blocked ones, hash lists
//	Accounts    users, API tokens, authentication
//	Brands      the brands images may be claimed for
//	Sessions    the console's sign-in sessions
//	Upkeep      the sweeper and readiness
//	Outbox      delivers what the others enqueue (purges of caches in front)
//	Erasure     uploaders delete their own images; a user's erasure
//	HostUsers   users a host app vouches for (JWTs), created on first sight
//	Webhooks    webhook endpoints; delivers events to them
//
// What two of them share is a small part one of them exports and the
// other declares the interface of: Moderation tells Serving (a
// Forgetter) of a takedown, Uploads tells it (a Pregenerator) of a claim,
// Sessions checks passwords with Accounts (a PasswordChecker), Erasure
// takes images down through Moderation (a Takedowner), Moderation asks
// Resemblance what resembles an image it takes down with its lookalikes
// (Lookalikes).

// Runtime is what every service is given besides its roles. Now defaults
// to time.Now and Log to slog.Default.
type Runtime struct {
	Now func() time.Time
	Log *slog.Logger
}

func (r Runtime) withDefaults() Runtime {
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Log == nil {
		r.Log = slog.Default()
	}
	return r
}

// Stores are the adapters all the services run on, one field per role;
// an adapter implementing several roles fills several fields. Scratch and
// Disk are as in UploadsDeps and UpkeepDeps.
type Stores struct {
	Uploads interface {
		UploadStore
		UploadExpirer
	}
	Images interface {
		ImageReader
		ImageLister
		ImageHashLister
		ReferenceChecker
	}
	Brands interface {
		BrandChecker
		BrandRegistry
		BrandRemover
	}
	Moderation interface {
		ModerationStore
		BlockChecker
		TakedownStore
	}
	Outbox interface {
		OutboxStore
		OutboxReader
	}
	Reports ReportStore
	// Hashes, when set, blocks pictures by their look too (Resemblance)
	// and keeps the hashes computed after the PUT.
	Hashes interface {
		HashBlocklist
		FingerprintStore
	}
	Accounts AccountStore
	// HostUsers keeps the users Vouch vouches for; Vouch nil: no host
	// app vouches for users (Services.HostUsers is nil).
	HostUsers HostUserStore
	Vouch     TokenVerifier
	Erasures  ErasureStore
	// SignIns keeps failed sign-ins; nil: sign-ins are not throttled.
	SignIns  SignInFailureStore
	Sessions interface {
		SessionStore
		SessionExpirer
	}
	// Webhooks keeps the webhook endpoints and deliveries; nil: no
	// webhooks (events wait in the outbox).
	Webhooks WebhookStore
	// WebhookSender sends webhooks; nil: this process delivers none (the
	// CLI's), a server does.
	WebhookSender   WebhookSender
	WebhookObserver WebhookObserver
	// Deliverers deliver the outbox's entries, one per topic (TopicPurge:
	// the caches in front); none means entries wait for an instance that
	// has them.
	Deliverers map[string]OutboxDeliverer
	// Reviewer, when set, allows or refuses each image before it is
	// published (the claim hook; see UploadsDeps).
	Reviewer ClaimReviewer
	Blobs    BlobStore
	Signer   UploadSigner
	Scratch  ScratchSpace
	Disk     DiskSpace
	Runtime
}

// Services are the use cases wired on one set of Stores, and the
// effective Config (defaults filled in) they share.
type Services struct {
	Config     Config
	Uploads    *Uploads
	Serving    *Serving
	Moderation *Moderation
	Reports    *Reports
	// Resemblance is nil when Stores.Hashes is.
	Resemblance *Resemblance
	Accounts    *Accounts
	Brands      *Brands
	Sessions    *Sessions
	Upkeep      *Upkeep
	Outbox      *Outbox
	Erasure     *Erasure
	// HostUsers is nil when Stores.Vouch is.
	HostUsers *HostUsers
	// Webhooks is nil when Stores.Webhooks is.
	Webhooks *Webhooks
}

// NewServices wires every use case on st, or returns an error if cfg is
// invalid or a role is missing.
func NewServices(cfg Config, st Stores) (Services, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Services{}, fmt.Errorf("config: %w", err)
	}
	sv := Services{Config: cfg}
	if sv.Serving, err = NewServing(cfg, ServingDeps{Images: st.Images, Blobs: st.Blobs, Runtime: st.Runtime}); err != nil {
		return Services{}, err
	}
	// Optional roles go in as nil interfaces, not as typed nil pointers.
	var fingerprint Fingerprinter
	var screen ClaimScreener
	var resemble BlockHasher
	var lookalikes Lookalikes
	if st.Hashes != nil {
		if sv.Resemblance, err = NewResemblance(cfg, ResemblanceDeps{Hashes: st.Hashes, Fingerprints: st.Hashes, Blobs: st.Blobs, Images: st.Images, Hashed: st.Images, Runtime: st.Runtime}); err != nil {
			return Services{}, err
		}
		fingerprint, screen, resemble, lookalikes = sv.Resemblance, sv.Resemblance, sv.Resemblance, sv.Resemblance
	}
	if sv.Uploads, err = NewUploads(cfg, UploadsDeps{Uploads: st.Uploads, Brands: st.Brands, Blocks: st.Moderation, Blobs: st.Blobs,
		Signer: st.Signer, Scratch: st.Scratch, Pregen: sv.Serving, Fingerprint: fingerprint, Screen: screen, Reviewer: st.Reviewer, Runtime: st.Runtime}); err != nil {
		return Services{}, err
	}
	if sv.Moderation, err = NewModeration(ModerationDeps{Images: st.Images, Lister: st.Images, Brands: st.Brands, Moderation: st.Moderation,
		Takedowns: st.Moderation, Blobs: st.Blobs, Forget: sv.Serving, Resemble: resemble, Lookalikes: lookalikes, Runtime: st.Runtime}); err != nil {
		return Services{}, err
	}
	if sv.Reports, err = NewReports(ReportsDeps{Images: st.Images, Reports: st.Reports, Runtime: st.Runtime}); err != nil {
		return Services{}, err
	}
	if sv.Brands, err = NewBrands(st.Brands); err != nil {
		return Services{}, err
	}
	if sv.Accounts, err = NewAccounts(cfg, AccountsDeps{Accounts: st.Accounts, SignIns: st.SignIns, Runtime: st.Runtime}); err != nil {
		return Services{}, err
	}
	if sv.Sessions, err = NewSessions(cfg, SessionsDeps{Sessions: st.Sessions, Users: st.Accounts, Passwords: sv.Accounts, Runtime: st.Runtime}); err != nil {
		return Services{}, err
	}
	if sv.Upkeep, err = NewUpkeep(cfg, UpkeepDeps{Expirer: st.Uploads, Tokens: st.Uploads, References: st.Images, Sessions: st.Sessions,
		Brands: st.Brands, Blobs: st.Blobs, Disk: st.Disk, Runtime: st.Runtime}); err != nil {
		return Services{}, err
	}
	if sv.Outbox, err = NewOutbox(cfg.Outbox, OutboxDeps{Store: st.Outbox, Reader: st.Outbox, Deliverers: st.Deliverers, Runtime: st.Runtime}); err != nil {
		return Services{}, err
	}
	if sv.Erasure, err = NewErasure(cfg, ErasureDeps{Images: st.Images, Lister: st.Images, Users: st.Accounts, Erasures: st.Erasures,
		TakeDown: sv.Moderation, Runtime: st.Runtime}); err != nil {
		return Services{}, err
	}
	if st.Vouch != nil {
		if sv.HostUsers, err = NewHostUsers(HostUsersDeps{Verifier: st.Vouch, Users: st.HostUsers, Runtime: st.Runtime}); err != nil {
			return Services{}, err
		}
	}
	if st.Webhooks != nil {
		if sv.Webhooks, err = NewWebhooks(cfg, WebhooksDeps{Store: st.Webhooks, Outbox: st.Outbox, Reader: st.Outbox, Sender: st.WebhookSender,
			Observer: st.WebhookObserver, Runtime: st.Runtime}); err != nil {
			return Services{}, err
		}
	}
	return sv, nil
}
