// compose-check validates docker-compose.yml the way `docker compose config` does, without a Docker engine
// or the compose plugin: it loads the file with compose-go (the library docker compose itself uses), with
// the given profiles, interpolation from the environment and the consistency checks, and prints the
// resolved project as JSON (or the error, exit 1).
//
//	go run . ../../docker-compose.yml cpu
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: compose-check FILE [PROFILE ...]")
		os.Exit(2)
	}
	options, err := cli.NewProjectOptions(
		[]string{os.Args[1]},
		cli.WithOsEnv,
		cli.WithName("powerhouse-rag"),
		cli.WithProfiles(os.Args[2:]),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	project, err := cli.ProjectFromOptions(context.Background(), options)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Stdout.Write(out)
	fmt.Println()
}
