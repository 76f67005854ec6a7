package main

import (
	"context"
	"encoding/json"

	"github.com/gofiber/fiber/v2"
)

// rowCeiling is the HTTP + session-row ceiling: what any HTTP service
// storing Till's session row must do, and no more. It parses a body
// shaped like Till's KasPay create request, builds the session-row
// ceiling's row (sessionPayment, models.PaymentRow), inserts it into a
// database of its own made with Till's migrations (openSessionInserter,
// sibling "httprow") and answers with Till's create response for that
// row. POST /sessions inserts each row alone, prepared (Postgres: pgx's
// statement cache, 20 connections, autocommit; SQLite: Till's settings,
// one writer); POST /sessions/batched queues it for a batcher, as Till's
// writer commits sessions. No link lookup, no rate, no validation
// beyond the body: the ceiling for session creation over HTTP.
type rowCeiling struct {
	in    *inserter
	batch *batcher
}

// openRowCeiling makes the ceiling's database beside insertDB (sqlite:
// "-httprow" before the file's extension; Postgres: "_httprow" after the
// database's name), afresh, holding past sessions as the suite's
// session-row ceiling does.
func openRowCeiling(ctx context.Context, insertDB string, past int) (*rowCeiling, error) {
	in, err := openSessionInserter(ctx, insertDB, "httprow", false, past)
	if err != nil {
		return nil, err
	}
	return &rowCeiling{in: in, batch: in.startBatcher(prepared)}, nil
}

// Close stops the batcher and closes the database; the routes must
// have stopped serving.
func (rc *rowCeiling) Close() error {
	rc.batch.stop()
	return rc.in.Close()
}

// routes adds POST /sessions and POST /sessions/batched to app.
func (rc *rowCeiling) routes(app *fiber.App) {
	app.Post("/sessions", rc.handler(func(ctx context.Context, row []any) error {
		return rc.in.insertRow(ctx, prepared, row)
	}))
	app.Post("/sessions/batched", rc.handler(func(_ context.Context, row []any) error {
		return rc.batch.insert(row)
	}))
}

// createSessionBody is the part of Till's KasPay create request
// (POST /api/payments) the suite's single-address sessions send.
type createSessionBody struct {
	PaymentLinkSlug string `json:"paymentLinkSlug"`
}

// handler parses the body, inserts the next session row with insert and
// answers 201 with Till's create response for it; a body that is not a
// JSON object naming a link gets 400 and inserts nothing.
func (rc *rowCeiling) handler(insert func(ctx context.Context, row []any) error) fiber.Handler {
	return func(c *fiber.Ctx) error {
		var req createSessionBody
		if err := json.Unmarshal(c.Body(), &req); err != nil || req.PaymentLinkSlug == "" {
			return c.Status(fiber.StatusBadRequest).JSON(fiber.Map{"error": "paymentLinkSlug is required"})
		}
		p := rc.in.payment(rc.in.rows.Add(1))
		if err := insert(c.UserContext(), sessionRow(p)); err != nil {
			return c.Status(fiber.StatusInternalServerError).JSON(fiber.Map{"error": err.Error()})
		}
		return c.Status(fiber.StatusCreated).JSON(p.KasPayCreated())
	}
}
