package source_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/citypopy/highway/source"
)

// read collects every token of a one reader sees, pausing pause after
// each.
func read(ctx context.Context, a *source.Answer, pause time.Duration) []string {
	var got []string
	for tok := range a.Tokens(ctx) {
		got = append(got, tok)
		time.Sleep(pause)
	}
	return got
}

// Every reader reads the whole stream from its first token, whenever it
// comes, at its own pace: a reader that sleeps a second a token holds no
// other back, and one that comes after the end is replayed all of it.
func TestAnAnswerIsReadWholeByEveryReaderAtItsOwnPace(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		a, w := source.NewStream("chat")
		want := []string{"Hello", " from", " AI", " City!"}
		var wg sync.WaitGroup
		got := make([][]string, 3)
		ended := make([]time.Duration, 3)
		start := time.Now()
		for i, pause := range []time.Duration{0, time.Second, 0} {
			wg.Go(func() {
				if i == 2 {
					time.Sleep(time.Minute) // after the end
				}
				got[i] = read(t.Context(), a, pause)
				ended[i] = time.Since(start)
			})
		}
		for _, tok := range want {
			time.Sleep(10 * time.Millisecond)
			w.Token(tok)
		}
		w.End(json.RawMessage(`{"reply":"Hello from AI City!"}`), &source.Usage{InputTokens: 2, OutputTokens: 4}, nil)
		wg.Wait()
		for i := range got {
			if !slices.Equal(got[i], want) {
				t.Errorf("reader %d read %q", i, got[i])
			}
		}
		if ended[0] != 40*time.Millisecond || ended[1] != 4*time.Second+10*time.Millisecond {
			t.Errorf("the quick reader ended at %v, the slow one at %v: each should keep its own pace", ended[0], ended[1])
		}
		v, err := a.Value(t.Context())
		u, ok := a.Usage()
		if string(v) != `{"reply":"Hello from AI City!"}` || err != nil || !ok || u.OutputTokens != 4 || a.From() != "chat" {
			t.Errorf("value %s %v, usage %+v %v, from %q", v, err, u, ok, a.From())
		}
	})
}

// Value and Tokens wait for the answer as long as their context lets
// them; AfterEnd hears the end once, with its error.
func TestAnAnswerIsWaitedForWithinAContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		a, w := source.NewStream("chat")
		w.Token("Hel")
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if got := read(ctx, a, 0); !slices.Equal(got, []string{"Hel"}) {
			t.Errorf("read %q before the context ended", got)
		}
		if _, err := a.Value(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("value: %v", err)
		}
		if _, ok := a.Usage(); ok {
			t.Error("usage before the end")
		}
		var heard []error
		a.AfterEnd(func(err error) { heard = append(heard, err) })
		cut := errors.New("cut")
		w.End(nil, nil, cut)
		a.AfterEnd(func(err error) { heard = append(heard, err) }) // after the end: at once
		if _, err := a.Value(t.Context()); err != cut || len(heard) != 2 || heard[0] != cut || heard[1] != cut || a.Err() != cut {
			t.Errorf("value %v, heard %v", err, heard)
		}
	})
}

// An answer that fails part-way goes on as the one Then's function gives
// (a failover mid-stream): its reader reads the first part's tokens, then
// the next's, and the value, usage and end are the last one's. A reader
// of the first answer alone is not taken along.
func TestAnAnswerGoesOnAsAnother(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		first, w1 := source.NewStream("chat")
		second, w2 := source.NewStream("claude")
		cut := errors.New("stall")
		var told error
		lane := first.Then(func(err error) (*source.Answer, error) { told = err; return second, nil })
		ended := false
		lane.AfterEnd(func(error) { ended = true })
		var parts []string
		done := make(chan struct{})
		go func() {
			defer close(done)
			for part := lane; part != nil; {
				parts = append(parts, part.From()+":"+strings.Join(read(t.Context(), part, 0), ""))
				next, err := part.Next(t.Context())
				if err != nil {
					t.Errorf("next: %v", err)
				}
				part = next
			}
		}()
		w1.Token("Hel")
		w1.End(nil, nil, cut)
		synctest.Wait()
		if ended || told != cut {
			t.Errorf("ended %v after the first part, told %v", ended, told)
		}
		w2.Token("Hello")
		w2.End(json.RawMessage(`"Hello"`), &source.Usage{OutputTokens: 1}, nil)
		<-done
		v, err := lane.Value(t.Context())
		u, _ := lane.Usage()
		if !slices.Equal(parts, []string{"chat:Hel", "claude:Hello"}) || string(v) != `"Hello"` || err != nil || u.OutputTokens != 1 || !ended {
			t.Errorf("parts %q, value %s %v, usage %+v, ended %v", parts, v, err, u, ended)
		}
		if lane.Err() != cut || first.Err() != cut {
			t.Errorf("the lane's own part failed with %v", lane.Err())
		}
		whole := source.Whole(json.RawMessage(`1`))
		if whole.Then(func(err error) (*source.Answer, error) { return nil, err }) != whole {
			t.Error("an answer that has succeeded went on as another")
		}
	})
}

// A shared cache keeps an answer as bytes: a whole one as its JSON, a
// streamed one with its tokens, replayed from the first when decoded.
func TestAnAnswerIsKeptAsBytesAndReplayed(t *testing.T) {
	t.Parallel()
	whole := source.Whole(json.RawMessage(`{"temp":21}`))
	b, err := whole.MarshalBinary()
	if string(b) != `{"temp":21}` || err != nil {
		t.Errorf("whole: %q %v", b, err)
	}
	s, w := source.NewStream("chat")
	if _, err := s.MarshalBinary(); err == nil {
		t.Error("an answer still arriving was encoded")
	}
	w.Token("Hi")
	w.Token("!")
	w.End(json.RawMessage(`{"reply":"Hi!"}`), &source.Usage{InputTokens: 3, OutputTokens: 2}, nil)
	b, err = s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var back source.Answer
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	v, err := back.Value(t.Context())
	u, ok := back.Usage()
	if got := read(t.Context(), &back, 0); !slices.Equal(got, []string{"Hi", "!"}) || string(v) != `{"reply":"Hi!"}` || err != nil ||
		!ok || u.InputTokens != 3 || back.From() != "chat" || back.Size() != s.Size() {
		t.Errorf("replayed %q, value %s %v, usage %+v, from %q", got, v, err, u, back.From())
	}
	var bad source.Answer
	if err := bad.UnmarshalBinary([]byte("not json")); !errors.Is(err, source.ErrNotJSON) {
		t.Errorf("bad bytes: %v", err)
	}
}

// whole calls src and waits for its answer's value.
func whole(ctx context.Context, src source.Source, call *source.Call) (json.RawMessage, error) {
	a, err := src.Fetch(ctx, call)
	if err != nil {
		return nil, err
	}
	return a.Value(ctx)
}

// streamed calls src and reads its answer as one reader does: each token
// with the name it came from, then the value.
func streamed(ctx context.Context, src source.Source) ([]string, json.RawMessage, error) {
	a, err := src.Fetch(ctx, nil)
	if err != nil {
		return nil, nil, err
	}
	var got []string
	for tok := range a.Tokens(ctx) {
		got = append(got, a.From()+":"+tok)
	}
	v, err := a.Value(ctx)
	return got, v, err
}
