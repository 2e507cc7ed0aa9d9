package core

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/userimages/userimages/client/api"
)

// Reports keeps readers' reports of published images: a reader files one
// (Report), moderators work through the queue (ReportQueue, Reports) and
// dismiss them (DismissReports) or take the image down (Moderation).
// Create it with NewReports.
type Reports struct {
	images  ImageReader
	reports ReportStore
	now     func() time.Time
	log     *slog.Logger
}

// ReportsDeps are the roles Reports calls.
type ReportsDeps struct {
	Images  ImageReader
	Reports ReportStore
	Runtime
}

// NewReports returns Reports, or an error if a role is missing.
func NewReports(d ReportsDeps) (*Reports, error) {
	if d.Images == nil || d.Reports == nil {
		return nil, errors.New("new reports: Images and Reports are required")
	}
	rt := d.Runtime.withDefaults()
	return &Reports{images: d.Images, reports: d.Reports, now: rt.Now, log: rt.Log}, nil
}

// Report records a reader's report of the published image id by reporter
// (who, as rate limits name clients: one report per reporter and image
// counts; a second is no error). A reason not in api.ReportReasons or a
// detail over api.MaxReportDetail is api.CodeInvalidProperty; an image not
// published is api.CodeNotFound.
func (s *Reports) Report(ctx context.Context, id, reporter, reason, detail string) (err error) {
	defer func() { err = Classify(err) }()
	if !slices.Contains(api.ReportReasons(), reason) {
		return propertyError(api.CodeInvalidProperty, api.PropReason, "reason %q must be one of %v", reason, api.ReportReasons())
	}
	if len(detail) > api.MaxReportDetail || !textual(detail) {
		return propertyError(api.CodeInvalidProperty, api.PropDetail, "detail must be UTF-8 text of at most %d bytes", api.MaxReportDetail)
	}
	img, err := publishedByID(ctx, s.images, id)
	if err != nil {
		return err
	}
	if full, err := s.reportsFull(ctx, id); err != nil || full {
		return err
	}
	at := s.now()
	err = s.reports.AddReport(ctx, Report{ImageID: id, Reporter: reporter, Reason: reason, Detail: detail, At: at,
		Outbox: []OutboxEntry{eventEntry(EventReportCreated, img, reason, at)}})
	if errors.Is(err, ErrExist) {
		return nil
	}
	return err
}

// Reports counted per image: at most reportCap in any reportWindow. A
// botnet can then raise one image's count by 20 an hour, not by hundreds
// in seconds; the reports past the cap are accepted (the reader is not
// told to retry, nor that the image is much reported) but not counted.
// Checked before the report is added, so a burst at once may pass the cap
// by the reports racing it.
const (
	reportCap    = 20
	reportWindow = time.Hour
)

// reportsFull reports whether image id has reportCap open reports made
// within reportWindow already.
func (s *Reports) reportsFull(ctx context.Context, id string) (bool, error) {
	open, err := s.reports.Reports(ctx, id) // newest first
	if err != nil {
		return false, err
	}
	since := s.now().Add(-reportWindow)
	recent := 0
	for _, r := range open {
		if r.At.After(since) {
			recent++
		}
	}
	return recent >= reportCap, nil
}

// ReportQueue lists the published images readers reported, most reported
// first, at most limit (default 100).
func (s *Reports) ReportQueue(ctx context.Context, limit int) ([]ReportedImage, error) {
	if limit <= 0 {
		limit = 100
	}
	q, err := s.reports.ReportedImages(ctx, limit)
	return q, Classify(err)
}

// Reports lists the open reports of image id, newest first.
func (s *Reports) Reports(ctx context.Context, id string) ([]Report, error) {
	rs, err := s.reports.Reports(ctx, id)
	return rs, Classify(err)
}

// DismissReports closes the open reports of image id, by by for reason,
// with an audit record; api.CodeNotFound if it has none.
func (s *Reports) DismissReports(ctx context.Context, id, by, reason string) error {
	err := s.reports.DismissReports(ctx, ModerationEvent{Action: ActionDismiss, Target: id, By: by, Reason: reason, At: s.now()})
	if errors.Is(err, ErrNotFound) {
		return Errorf(api.CodeNotFound, "image %s has no open report", id)
	}
	return Classify(err)
}
