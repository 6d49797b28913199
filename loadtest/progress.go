package loadtest

// Progress is told what a run is doing, for a live display: Phase starts
// a phase of total steps, Add reports steps done. Calls come from many
// goroutines.
type Progress interface {
	Phase(name string, total int)
	Add(n int)
}

// progress is the run's Progress, or none.
type progress struct{ p Progress }

func (p *progress) phase(name string, total int) {
	if p.p != nil {
		p.p.Phase(name, total)
	}
}

func (p *progress) add(n int) {
	if p.p != nil {
		p.p.Add(n)
	}
}
