// Imported first by the CLI, so it runs before any AWS SDK module loads: on Node 20 the SDK
// warns that future releases need Node 22, which is noise in an operator's terminal.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
