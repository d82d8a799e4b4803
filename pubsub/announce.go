package pubsub

import "time"

// Head announcements. A receiver notices a lost message when a later one
// arrives; if the lost ones were the last before the origin went quiet,
// nothing would ever arrive. So after publishing, an origin announces its
// head (latest seq) on the topic, 1 s after the last publish and then at
// doubling intervals up to 30 s, for as long as its history may still
// hold the message (HistoryAge). Receivers treat a head beyond what they
// have as a gap and repair it.
const (
	announceFirst = time.Second
	announceMax   = 30 * time.Second
)

// announcer schedules one stream's head announcements.
type announcer struct {
	next  time.Time
	every time.Duration
	until time.Time
}

// published restarts the schedule after a publish at now.
func (a *announcer) published(now time.Time, horizon time.Duration) {
	a.schedule(now, now.Add(horizon))
}

// schedule announces from now + announceFirst until until.
func (a *announcer) schedule(now, until time.Time) {
	a.every = announceFirst
	a.next = now.Add(a.every)
	a.until = until
}

// due reports whether an announcement is due at now, and if so advances
// the schedule.
func (a *announcer) due(now time.Time) bool {
	if a.next.IsZero() || now.Before(a.next) {
		return false
	}
	if now.After(a.until) {
		a.next = time.Time{}
		return false
	}
	a.every = min(2*a.every, announceMax)
	a.next = now.Add(a.every)
	return true
}

// active reports whether announcements are still scheduled.
func (a *announcer) active() bool { return !a.next.IsZero() }
