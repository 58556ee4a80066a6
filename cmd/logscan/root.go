package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func newRootCmd(io *IOStreams, version string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logscan <command>",
		Short: "Analyse Microsoft Exchange SMTP protocol logs",
		Long: `logscan reads Exchange SMTP Receive and Send protocol logs (Exchange 2007 to 2019),
from folders copied off one or many servers, plain, gzip'd, bzip2'd or zipped,
and tells you what they hold.`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	// Help asked for goes to stdout (logscan scan --help | less); errors
	// and usage hints to stderr. Results never go through cobra.
	cmd.SetOut(io.Out)
	cmd.SetErr(io.ErrOut)
	cmd.SetFlagErrorFunc(flagError)
	cmd.AddCommand(newScanCmd(io, nil))
	cmd.AddCommand(newIngestCmd(io, nil))
	cmd.AddCommand(newConnectorsCmd(io, nil))
	cmd.AddCommand(newClientsCmd(io, nil), newCoverageCmd(io, nil), newSessionCmd(io, nil))
	cmd.AddCommand(newVersionCmd(io, version))
	return cmd
}

// enumFlag is a string flag that accepts only listed values.
type enumFlag struct {
	value   *string
	allowed []string
}

func (e *enumFlag) String() string { return *e.value }
func (e *enumFlag) Type() string   { return "string" }
func (e *enumFlag) Set(v string) error {
	for _, a := range e.allowed {
		if v == a {
			*e.value = v
			return nil
		}
	}
	return fmt.Errorf("valid values are {%s}", strings.Join(e.allowed, "|"))
}

// stringEnumFlag declares an enum flag, listing its values in the help.
func stringEnumFlag(cmd *cobra.Command, p *string, name, def string, allowed []string, usage string) {
	*p = def
	cmd.Flags().Var(&enumFlag{value: p, allowed: allowed}, name, fmt.Sprintf("%s: {%s}", usage, strings.Join(allowed, "|")))
}

// flagError makes cobra's flag parsing errors usage errors (exit 2, hint).
func flagError(_ *cobra.Command, err error) error { return &FlagError{err} }
