package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"userimages/core"
)

// webhookCmd groups the webhook endpoints' commands, which work on a
// deployment's stores directly, as the other admin commands do.
type webhookCmd struct {
	Add        webhookAddCmd        `cmd:"" help:"Register a webhook endpoint; prints its id and its signing secret (whsec_…), shown once."`
	Ls         webhookLsCmd         `cmd:"" help:"List webhook endpoints (never their secrets)."`
	Rm         webhookRmCmd         `cmd:"" help:"Remove a webhook endpoint: nothing more is sent to it."`
	Enable     webhookEnableCmd     `cmd:"" help:"Enable an endpoint disabled after failing for days."`
	Deliveries webhookDeliveriesCmd `cmd:"" help:"List an endpoint's recent deliveries: state, attempts, last answer, next try."`
}

type webhookAddCmd struct {
	location
	URL    string   `name:"url" help:"Where events are POSTed: http(s)://HOST/PATH." required:"" placeholder:"URL"`
	Events []string `help:"Event types sent to it, comma-separated (default: all): image.claimed, image.taken_down, image.deleted, image.erased, report.created." placeholder:"LIST"`
}

func (c *webhookAddCmd) Run(ctx context.Context, std stdio) error {
	return withService(ctx, std, c.location, false, func(svc core.Services) error {
		ep, err := svc.Webhooks.Add(ctx, c.URL, c.Events)
		if err != nil {
			return err
		}
		fmt.Fprintf(std.out, "id:     %s\nurl:    %s\nevents: %s\nsecret: %s\n", ep.ID, ep.URL, eventsText(ep.Events), ep.Secret)
		fmt.Fprintln(std.err, "userimages: the secret is shown once; the receiver verifies the webhook-signature header with it (see docs/webhooks.md, which has a worked receiver)")
		return nil
	})
}

// eventsText is an endpoint's event types for people.
func eventsText(events []string) string {
	if len(events) == 0 {
		return "all"
	}
	return strings.Join(events, ",")
}

type webhookLsCmd struct {
	location
}

func (c *webhookLsCmd) Run(ctx context.Context, std stdio) error {
	return withService(ctx, std, c.location, false, func(svc core.Services) error {
		eps, err := svc.Webhooks.List(ctx)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(std.out, 0, 8, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tURL\tEVENTS\tSTATE\tCREATED")
		for _, ep := range eps {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", ep.ID, ep.URL, eventsText(ep.Events), endpointState(ep), ep.CreatedAt.Format(time.RFC3339))
		}
		return w.Flush()
	})
}

// endpointState says whether an endpoint is enabled, failing or disabled.
func endpointState(ep core.WebhookEndpoint) string {
	switch {
	case !ep.DisabledAt.IsZero():
		return "disabled since " + ep.DisabledAt.Format(time.RFC3339)
	case !ep.FailingSince.IsZero():
		return "failing since " + ep.FailingSince.Format(time.RFC3339)
	}
	return "enabled"
}

type webhookRmCmd struct {
	location
	ID string `arg:"" name:"id" help:"The endpoint's id (ep_…)."`
}

func (c *webhookRmCmd) Run(ctx context.Context, std stdio) error {
	return onEndpoint(ctx, std, c.location, c.ID, "removed", (*core.Webhooks).Remove)
}

// onEndpoint calls do on endpoint id and says what was done.
func onEndpoint(ctx context.Context, std stdio, where location, id, done string, do func(*core.Webhooks, context.Context, string) error) error {
	return withService(ctx, std, where, false, func(svc core.Services) error {
		if err := do(svc.Webhooks, ctx, id); err != nil {
			return err
		}
		fmt.Fprintln(std.out, done, "webhook endpoint", id)
		return nil
	})
}

type webhookEnableCmd struct {
	location
	ID string `arg:"" name:"id" help:"The endpoint's id (ep_…)."`
}

func (c *webhookEnableCmd) Run(ctx context.Context, std stdio) error {
	return onEndpoint(ctx, std, c.location, c.ID, "enabled", (*core.Webhooks).Enable)
}

type webhookDeliveriesCmd struct {
	location
	ID    string `arg:"" name:"id" help:"The endpoint's id (ep_…)."`
	Limit int    `help:"How many, newest first." default:"50"`
}

func (c *webhookDeliveriesCmd) Run(ctx context.Context, std stdio) error {
	return withService(ctx, std, c.location, false, func(svc core.Services) error {
		ds, err := svc.Webhooks.Deliveries(ctx, c.ID, c.Limit)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(std.out, 0, 8, 2, ' ', 0)
		fmt.Fprintln(w, "WEBHOOK-ID\tTYPE\tSTATE\tATTEMPTS\tLAST ANSWER\tNEXT TRY\tCREATED")
		for _, d := range ds {
			next := "-"
			if !d.NextAt.IsZero() {
				next = d.NextAt.Format(time.RFC3339)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", d.MessageID, d.Type, d.State, d.Attempts, d.LastStatus, next, d.CreatedAt.Format(time.RFC3339))
		}
		return w.Flush()
	})
}
