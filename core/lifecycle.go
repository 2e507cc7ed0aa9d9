package core

// UploadState is where an upload row is in its lifecycle.
//
// The lifecycle of an upload token, in one place. Every arrow is one
// conditional write of the UploadStore, in one transaction; of two
// writes racing for one token exactly one wins, and the loser learns why
// from TokenStatus. A refused transition changes no row, and no row is
// written twice: a token whose bytes never arrived simply stays where it is
// until it expires. A checked copy that no row came to name is deleted by
// the request that stored it, or else by the sweeper's orphan scan.
//
//	state     recorded as                          entered by
//	(none)    nothing; the URL carries the upload  step 1 on the embedded default
//	created   upload row, State "created"          CreateUpload: step 1 with an object store
//	received  upload row, State "received",        ReceiveUpload: the PUT's body checked and its
//	          checked copy at ImageKey(ImageID)      safe copy stored (embedded default), or a
//	                                                 claim that checked the staged object (S3)
//	claimed   image row (upload row deleted)       ClaimUpload: received, not expired, brand
//	                                                 known, bytes not blocklisted
//	taken     audit row (image row deleted)        DeleteImage: a moderator's takedown
//	down
//	expired   nothing, and the token's own time    ExpireUploads: created or received rows
//	          is past the claim window               older than the claim window, then their bytes
//
// So a claim on the embedded default reads no image bytes: the PUT checked
// them and stored the copy to serve, and the claim only moves the row. With
// an object store the bytes bypass the server, so the claim checks the
// staged object, stores the copy (created → received), then moves the row.
type UploadState string

// Upload states kept in upload rows; see UploadState.
const (
	StateCreated  UploadState = "created"
	StateReceived UploadState = "received"
)
