package source_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citypopy/highway/policy"
	"github.com/citypopy/highway/source"
)

// sink collects what one caller is handed of a stream.
type sink struct {
	mu  sync.Mutex
	got []string
}

func (s *sink) ctx(parent context.Context) context.Context {
	return source.WithDeltas(parent, func(_, text string) {
		s.mu.Lock()
		s.got = append(s.got, text)
		s.mu.Unlock()
	})
}

func (s *sink) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.got, "")
}

// A coalesced streaming call hands every waiter every token, through its
// own sink: one that joins late gets the tokens already streamed first;
// one that leaves gets nothing more.
func TestCoalescedStreamsRelayEveryTokenToEveryWaiter(t *testing.T) {
	step := make(chan struct{}) // the upstream sends one token per step
	calls := 0
	base := fakeOpenAI(t, func(w http.ResponseWriter, req map[string]any) {
		calls++
		w.Header().Set("Content-Type", "text/event-stream")
		for _, tok := range []string{"Hello", " from", " AI", " City!"} {
			<-step
			b, _ := json.Marshal(tok)
			chunk(w, `{"model":"m","choices":[{"index":0,"delta":{"content":`+string(b)+`},"finish_reason":null}]}`)
		}
		chunk(w, `[DONE]`)
	})
	chat := &policy.Coalesce[*source.Call, json.RawMessage]{
		Next:  &source.OpenAI{LLM: source.LLM{Name: "chat", BaseURL: base, Model: "m", APIKey: key, User: "hi", Stream: true}},
		Key:   (*source.Call).Key,
		Relay: source.RelayDeltas,
	}
	first, late, leaving := &sink{}, &sink{}, &sink{}
	var wg sync.WaitGroup
	answers := make([]string, 2)
	fetch := func(i int, s *sink) {
		defer wg.Done()
		v, err := chat.Fetch(s.ctx(t.Context()), nil)
		if err != nil {
			t.Errorf("waiter %d: %v", i, err)
		}
		answers[i] = string(v)
	}
	wg.Add(1)
	go fetch(0, first)
	leaveCtx, leave := context.WithCancel(t.Context())
	leaverDone := make(chan struct{})
	go func() {
		defer close(leaverDone)
		chat.Fetch(leaving.ctx(leaveCtx), nil)
	}()
	step <- struct{}{}
	step <- struct{}{} // "Hello from" streamed
	waitFor(t, func() bool { return first.text() == "Hello from" && leaving.text() == "Hello from" })
	leave()
	<-leaverDone
	wg.Add(1)
	go fetch(1, late)
	waitFor(t, func() bool { return late.text() == "Hello from" }) // replayed
	step <- struct{}{}
	step <- struct{}{}
	wg.Wait()
	for i, s := range []*sink{first, late} {
		if s.text() != "Hello from AI City!" || !strings.Contains(answers[i], `"reply":"Hello from AI City!"`) {
			t.Errorf("waiter %d heard %q, answered %s", i, s.text(), answers[i])
		}
	}
	if leaving.text() != "Hello from" || calls != 1 {
		t.Errorf("the waiter that left heard %q after leaving; %d upstream calls", leaving.text(), calls)
	}
	if !slices.Equal(first.got, []string{"Hello", " from", " AI", " City!"}) {
		t.Errorf("tokens %q", first.got)
	}
}

// waitFor polls cond, for what another goroutine is about to make true.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(time.Millisecond)
	}
}
