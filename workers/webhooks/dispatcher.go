package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"till/models"
	"till/models/netguard"
	"till/workers"
)

// DefaultSchedule is the wait after each failed attempt: ten attempts over
// 3 days 20 h 36 min, then the delivery is marked failed.
var DefaultSchedule = []time.Duration{
	time.Minute, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 6 * time.Hour,
	12 * time.Hour, 24 * time.Hour, 24 * time.Hour, 24 * time.Hour,
}

// Dispatcher is the worker that sends webhook deliveries. Any number may
// run against one Postgres database (claims use FOR UPDATE SKIP LOCKED and
// a lease); SQLite serves one process.
//
// Each delivery is sent by its own goroutine, at most Workers at once and at
// most PerEndpoint per endpoint, each with its own Timeout, so a slow or
// failing endpoint holds a bounded share of the pool and never delays the
// others.
type Dispatcher struct {
	Store *models.Store
	// Policy is the destination rule checked at dial time (nil: strict).
	Policy *netguard.Policy
	// Client sends the requests; nil builds NewClient(Policy).
	Client *http.Client
	// Workers bounds concurrent sends (default 8); PerEndpoint bounds them
	// per endpoint (default 2).
	Workers     int
	PerEndpoint int
	// Timeout bounds one request, response included (default 10s).
	Timeout time.Duration
	// Lease is how long a claim holds before another dispatcher may take
	// the delivery over (default 1m; must exceed Timeout).
	Lease time.Duration
	// Interval is the polling period for due deliveries (default 1s).
	Interval time.Duration
	// Schedule is the wait after each failed attempt (default
	// DefaultSchedule); after len(Schedule)+1 failures a delivery fails.
	Schedule []time.Duration
	// Grace is how long in-flight sends may finish on shutdown before they
	// are cut off and their deliveries released (default 5s).
	Grace time.Duration
	Log   *slog.Logger
	// Observer, when set, is told of every attempt's outcome (metrics).
	Observer workers.DeliveryObserver

	once     sync.Once
	mu       sync.Mutex
	inFlight map[string]int // endpoint id → sends in progress
	total    int
}

// Name identifies the worker in logs.
func (d *Dispatcher) Name() string { return "webhooks" }

func (d *Dispatcher) init() {
	d.once.Do(func() {
		if d.Client == nil {
			d.Client = NewClient(d.Policy)
		}
		if d.Workers <= 0 {
			d.Workers = 8
		}
		if d.PerEndpoint <= 0 {
			d.PerEndpoint = 2
		}
		if d.Timeout <= 0 {
			d.Timeout = 10 * time.Second
		}
		if d.Lease <= 0 {
			d.Lease = time.Minute
		}
		if d.Lease < d.Timeout+10*time.Second {
			d.Lease = d.Timeout + 10*time.Second
		}
		if d.Interval <= 0 {
			d.Interval = time.Second
		}
		if d.Schedule == nil {
			d.Schedule = DefaultSchedule
		}
		if d.Grace <= 0 {
			d.Grace = 5 * time.Second
		}
		if d.Log == nil {
			d.Log = slog.Default()
		}
		d.inFlight = map[string]int{}
	})
}

// Run sends due deliveries until ctx ends, then lets in-flight sends finish
// for up to Grace; sends still running after that are cut off and their
// deliveries released for another attempt.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.init()
	// Sends outlive ctx by the grace period: they get their own context,
	// cancelled only by abort.
	sendCtx, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()
	var wg sync.WaitGroup
	wake := make(chan struct{}, 1)
	t := time.NewTicker(d.Interval)
	defer t.Stop()
	for {
		// fill logs a failed claim; the next tick claims again.
		_, _ = d.fill(ctx, sendCtx, &wg, wake)
		select {
		case <-ctx.Done():
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(d.Grace):
				abort()
				<-done
			}
			return nil
		case <-t.C:
		case <-wake:
		}
	}
}

// DeliverDue claims what is due now (up to Workers deliveries), sends it,
// waits for every send to be recorded, and returns how many were sent.
// Tests step the dispatcher with it; Run is the production loop.
func (d *Dispatcher) DeliverDue(ctx context.Context) (int, error) {
	d.init()
	var wg sync.WaitGroup
	n, err := d.fill(ctx, ctx, &wg, nil)
	wg.Wait()
	return n, err
}

// fill claims deliveries for the free slots and starts a send for each.
// A claim can come back short because of per-endpoint caps, so it claims
// again (those endpoints now excluded) until the slots are full or nothing
// more is due.
func (d *Dispatcher) fill(ctx, sendCtx context.Context, wg *sync.WaitGroup, wake chan struct{}) (int, error) {
	started := 0
	for ctx.Err() == nil {
		d.mu.Lock()
		free := d.Workers - d.total
		busy := make(map[string]int, len(d.inFlight))
		for k, v := range d.inFlight {
			busy[k] = v
		}
		d.mu.Unlock()
		if free <= 0 {
			break
		}
		jobs, err := d.Store.ClaimDeliveries(ctx, models.ClaimRequest{
			Limit: free, Lease: d.Lease, PerEndpoint: d.PerEndpoint, InFlight: busy,
		})
		if err != nil {
			if ctx.Err() == nil {
				d.Log.Warn("webhook claim failed", slog.Any("error", err))
			}
			return started, err
		}
		if len(jobs) == 0 {
			break
		}
		for i := range jobs {
			job := jobs[i]
			d.mu.Lock()
			d.inFlight[job.EndpointID]++
			d.total++
			d.mu.Unlock()
			wg.Add(1)
			started++
			go func() {
				defer wg.Done()
				d.deliver(sendCtx, &job)
				d.mu.Lock()
				if d.inFlight[job.EndpointID]--; d.inFlight[job.EndpointID] <= 0 {
					delete(d.inFlight, job.EndpointID)
				}
				d.total--
				d.mu.Unlock()
				if wake != nil {
					select {
					case wake <- struct{}{}:
					default:
					}
				}
			}()
		}
	}
	return started, nil
}

// deliver makes one attempt and records it. An attempt cut off by shutdown
// is not recorded (nobody knows whether the receiver got it): the delivery
// is released and sent again, by this process after a restart or by
// another one now.
func (d *Dispatcher) deliver(sendCtx context.Context, job *models.DeliveryJob) {
	res := d.send(sendCtx, job)
	// Record with a context of its own: a send that finished must be
	// recorded even while the dispatcher is stopping.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(sendCtx), 10*time.Second)
	defer cancel()
	log := d.Log.With(slog.String("delivery_id", job.DeliveryID), slog.String("endpoint_id", job.EndpointID),
		slog.String("event", job.EventType), slog.Int("attempt", job.Attempt))
	if sendCtx.Err() != nil && res.StatusCode == 0 {
		d.observe(job, workers.DeliveryInterrupted, res)
		if err := d.Store.ReleaseDelivery(rctx, job); err != nil {
			log.Warn("webhook release failed", slog.Any("error", err))
		}
		log.Info("webhook send interrupted by shutdown; released for another attempt")
		return
	}
	schedule := d.Schedule
	if dl, err := dialectOf(job.Dialect); err == nil {
		schedule = dl.Schedule(d.Schedule)
	}
	status, err := d.Store.RecordDeliveryAttempt(rctx, job, res, schedule)
	d.observe(job, outcomeOf(status, err), res)
	switch {
	case errors.Is(err, models.ErrLeaseLost):
		log.Warn("webhook lease lost before recording (lease shorter than the send?)")
	case err != nil:
		log.Error("webhook attempt not recorded", slog.Any("error", err))
	case status == models.DeliveryDelivered:
		log.Info("webhook delivered", slog.Int("status_code", res.StatusCode), slog.Int64("latency_ms", res.Latency.Milliseconds()))
	default:
		log.Warn("webhook attempt failed", slog.String("delivery_status", string(status)),
			slog.Int("status_code", res.StatusCode), slog.String("error", res.Err))
	}
}

// send POSTs the delivery once and describes the outcome.
// observe reports one attempt to the Observer, if any.
func (d *Dispatcher) observe(job *models.DeliveryJob, outcome string, res models.AttemptResult) {
	if d.Observer != nil {
		d.Observer.WebhookAttempt(job.Dialect, outcome, res.Latency)
	}
}

// outcomeOf names a recorded attempt's outcome for the Observer.
func outcomeOf(status models.DeliveryStatus, err error) string {
	switch {
	case err != nil:
		return workers.DeliveryUnrecorded
	case status == models.DeliveryDelivered:
		return workers.DeliveryDelivered
	case status == models.DeliveryFailed:
		return workers.DeliveryFailed
	}
	return workers.DeliveryRetrying
}

func (d *Dispatcher) send(ctx context.Context, job *models.DeliveryJob) models.AttemptResult {
	res := models.AttemptResult{At: d.Store.Now()}
	if job.SecretErr != nil {
		res.Err = "cannot decrypt the endpoint's signing secret (was TILL_SECRET changed?)"
		return res
	}
	dialect, err := dialectOf(job.Dialect)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	body, err := dialect.Body(job)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	start := time.Now() // latency covers all the timeout covers
	rctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, job.URL, bytes.NewReader(body))
	if err != nil {
		res.Err = "invalid endpoint URL"
		return res
	}
	dialect.SetHeaders(req.Header, job, body, start)
	resp, err := d.Client.Do(req)
	if err != nil {
		res.Latency = time.Since(start)
		res.Err = describe(err, d.Timeout)
		return res
	}
	// A 2xx status is the receiver's acknowledgement: a body cut short
	// does not undo it, so read errors are ignored.
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, models.MaxResponseSnippet))
	// Drain a little more so the connection can be reused, then close.
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
	res.Latency = time.Since(start)
	res.StatusCode = resp.StatusCode
	res.Snippet = string(snippet)
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		res.Err = fmt.Sprintf("HTTP %d: redirects are not followed; register the final URL", resp.StatusCode)
	case resp.StatusCode < 200 || resp.StatusCode >= 300:
		res.Err = fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return res
}

// describe turns a client error into a message for the delivery log: no
// URL (it may carry the merchant's tokens), just what went wrong.
func describe(err error, timeout time.Duration) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var be *netguard.BlockedError
	var re *netguard.ResolveError
	var ne net.Error
	switch {
	case errors.As(err, &be):
		return "refused: " + be.Error() + " (set TILL_WEBHOOK_ALLOW_PRIVATE=true only for local development)"
	case errors.As(err, &re):
		return re.Error()
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("timeout: no complete response within %s", timeout)
	case errors.Is(err, context.Canceled):
		return "cancelled"
	}
	return err.Error()
}
