package double

import (
	"strconv"
	"strings"
	"testing"
)

// TestFullTransactionsPage checks the keyset paging algorithm of
// /full-transactions-page against a history with a shared block_time:
//
//	t1 T, t2 T+100, t3 t4 t5 T+200 (one block), t6 T+300, t7 T+400
func TestFullTransactionsPage(t *testing.T) {
	c, url := start(t, Options{})
	a := c.AddressFor("merchant")
	var ids []string // ids[i] is t(i+1)
	pay := func(same bool) {
		ids = append(ids, c.Submit2(t, TxSpec{Outputs: []Output{{a, int64(len(ids) + 1)}}, SameBlock: same}))
	}
	pay(false)
	pay(false)
	pay(false)
	pay(true)
	pay(true)
	pay(false)
	pay(false)
	T := DefaultStartTime.UnixMilli()
	ms := func(d int64) string { return strconv.FormatInt(T+d, 10) }
	// Newest first; the T+200 block is ordered t5 t4 t3.
	byName := map[string]string{}
	for i, id := range ids {
		byName["t"+strconv.Itoa(i+1)] = id
	}

	tests := []struct {
		name, query      string
		want             string // tx names in response order
		count            string
		nextBefore       string
		nextAfter        string
		cacheControlWant string
	}{
		{"first page grows past limit on the shared oldest block_time", "limit=3", "t7 t6 t5 t4 t3", "5", ms(200), "", "public, max-age=8"},
		{"whole history", "limit=50", "t7 t6 t5 t4 t3 t2 t1", "7", "", "", ""},
		{"before: strictly older, next-after header because newer exist", "limit=3&before=" + ms(200), "t2 t1", "2", "", ms(100), ""},
		{"before cuts inside the history", "limit=1&before=" + ms(300), "t5 t4 t3", "3", ms(200), ms(200), ""},
		{"after: the oldest newer ones, ties at the boundary included", "limit=2&after=" + ms(100), "t5 t4 t3", "3", ms(200), ms(200), ""},
		{"after near the end", "limit=5&after=" + ms(200), "t7 t6", "2", ms(300), "", ""},
		{"after the newest", "after=" + ms(400), "", "0", "", "", ""},
		{"after more than an hour in the future", "after=" + ms(2*3_600_000), "", "0", "", "", ""},
		{"before genesis", "before=" + strconv.FormatInt(GenesisMs, 10), "", "0", "", "", ""},
		{"after below genesis: no next-before header", "limit=2&after=1", "t2 t1", "2", "", ms(100), ""},
		{"fields; the next-before cursor is the page's oldest time", "limit=1&fields=transaction_id,block_time", "t7", "1", ms(400), "", ""},
		{"acceptance=accepted", "acceptance=accepted", "t7 t6 t5 t4 t3 t2 t1", "7", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, "GET", url+"/addresses/"+a+"/full-transactions-page?"+tc.query, "")
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			v := r.json(t).([]any)
			var got []string
			for _, e := range v {
				id := jget(t, e, "transaction_id").(string)
				for n, x := range byName {
					if x == id {
						got = append(got, n)
					}
				}
				if strings.Contains(tc.query, "fields=") && len(keys(e)) != 2 {
					t.Errorf("fields filter: keys %v", keys(e))
				}
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("txs %q, want %q", g, tc.want)
			}
			if h := r.header.Get("X-Page-Count"); h != tc.count {
				t.Errorf("X-Page-Count %q, want %q", h, tc.count)
			}
			if h := r.header.Get("X-Next-Page-Before"); h != tc.nextBefore {
				t.Errorf("X-Next-Page-Before %q, want %q", h, tc.nextBefore)
			}
			if h := r.header.Get("X-Next-Page-After"); h != tc.nextAfter {
				t.Errorf("X-Next-Page-After %q, want %q", h, tc.nextAfter)
			}
			if tc.cacheControlWant != "" && r.header.Get("Cache-Control") != tc.cacheControlWant {
				t.Errorf("Cache-Control %q", r.header.Get("Cache-Control"))
			}
		})
	}

	t.Run("walking with X-Next-Page-Before visits every tx once", func(t *testing.T) {
		seen := map[string]int{}
		q := "limit=2"
		for i := 0; i < 10; i++ {
			r := call(t, "GET", url+"/addresses/"+a+"/full-transactions-page?"+q, "")
			for _, e := range r.json(t).([]any) {
				seen[jget(t, e, "transaction_id").(string)]++
			}
			nb := r.header.Get("X-Next-Page-Before")
			if nb == "" {
				break
			}
			q = "limit=2&before=" + nb
		}
		for _, id := range ids {
			if seen[id] != 1 {
				t.Errorf("tx %s seen %d times", id, seen[id])
			}
		}
	})

	t.Run("rejected transactions are filtered by acceptance", func(t *testing.T) {
		rej := c.Submit2(t, TxSpec{Outputs: []Output{{a, 5}}, Rejected: true})
		r := call(t, "GET", url+"/addresses/"+a+"/full-transactions-page?acceptance=rejected", "")
		v := r.json(t).([]any)
		if len(v) != 1 || jget(t, v[0], "transaction_id") != rej || jget(t, v[0], "accepting_block_hash") != nil {
			t.Errorf("got %s", r.body)
		}
		r = call(t, "GET", url+"/addresses/"+a+"/full-transactions-page?acceptance=accepted&limit=1", "")
		if v := r.json(t).([]any); jget(t, v[0], "transaction_id") != ids[6] {
			t.Errorf("accepted page starts with %v", jget(t, v[0], "transaction_id"))
		}
	})
}
