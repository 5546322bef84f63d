package io.keymux.server.cli;

import io.keymux.config.load.ConfigSchema;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code keymux schema}: prints the JSON Schema (draft 2020-12) of the configuration file, the rules
 * {@code keymux validate} enforces, so an editor or a CI job can check a file without keymux.
 *
 * <pre>{@code
 * keymux schema > keymux.schema.json
 * # first line of keymux.yaml:
 * # yaml-language-server: $schema=keymux.schema.json
 * }</pre>
 */
@Command(
        name = "schema",
        mixinStandardHelpOptions = true,
        versionProvider = KeymuxMain.Version.class,
        description = "Print the JSON Schema (draft 2020-12) of the configuration file.")
public final class SchemaCommand implements Callable<Integer> {

    @Spec
    private CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        String schema = ConfigSchema.text();
        out.print(schema);
        if (!schema.endsWith("\n")) {
            out.println();
        }
        out.flush();
        return 0;
    }
}
