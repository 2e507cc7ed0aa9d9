package console

import (
	"context"
	"net/http"
	"net/url"

	"github.com/userimages/userimages/client/api"

	"userimages/core"
)

// errNoWebhooks answers the webhooks' actions on a console without them.
var errNoWebhooks = core.Errorf(api.CodeNotFound, "this server does not show webhooks")

// Webhooks shows the webhook endpoints and their deliveries, and retries
// them (core.Webhooks).
type Webhooks interface {
	List(ctx context.Context) ([]core.WebhookEndpoint, error)
	Deliveries(ctx context.Context, id string, limit int) ([]core.WebhookDelivery, error)
	RetryNow(ctx context.Context, ep, msg string) error
	Enable(ctx context.Context, id string) error
}

// endpointView is an endpoint with its recent deliveries.
type endpointView struct {
	core.WebhookEndpoint
	Deliveries []core.WebhookDelivery
}

// recentDeliveries is how many deliveries the page shows per endpoint.
const recentDeliveries = 20

// webhooks lists the endpoints (the disabled ones first said so) with
// their recent deliveries: state, attempts, last answer, next try, and a
// Retry now button.
func (c *Console) webhooks(w http.ResponseWriter, r *http.Request, u core.User) error {
	var views []endpointView
	disabled := 0
	if c.hooks != nil {
		eps, err := c.hooks.List(r.Context())
		if err != nil {
			return err
		}
		for _, ep := range eps {
			ds, err := c.hooks.Deliveries(r.Context(), ep.ID, recentDeliveries)
			if err != nil {
				return err
			}
			if !ep.DisabledAt.IsZero() {
				disabled++
			}
			views = append(views, endpointView{WebhookEndpoint: ep, Deliveries: ds})
		}
	}
	c.render(w, r, http.StatusOK, "webhooks", "Webhooks", "webhooks", u, withFlash(r, data{"Endpoints": views, "Disabled": disabled, "Enabled": c.hooks != nil}))
	return nil
}

// retryWebhook makes a delivery due now.
func (c *Console) retryWebhook(w http.ResponseWriter, r *http.Request, _ core.User) error {
	if c.hooks == nil {
		return errNoWebhooks
	}
	ep := r.PathValue("ep")
	if err := c.hooks.RetryNow(r.Context(), ep, r.PathValue("msg")); err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/webhooks?done=retried#"+url.PathEscape(ep), http.StatusSeeOther)
	return nil
}

// enableWebhook enables a disabled endpoint.
func (c *Console) enableWebhook(w http.ResponseWriter, r *http.Request, _ core.User) error {
	if c.hooks == nil {
		return errNoWebhooks
	}
	if err := c.hooks.Enable(r.Context(), r.PathValue("ep")); err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/webhooks?done=enabled", http.StatusSeeOther)
	return nil
}
