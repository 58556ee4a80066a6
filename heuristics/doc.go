// Package heuristics judges the sessions that package session rebuilds:
// each detector (one file each, declared in detector.go) watches every
// session and reports findings with evidence, cause and fix; org.go infers
// what the organisation is, summary.go describes servers and connectors.
package heuristics
