"""The app's functions: what one function is and how it is invoked.

``interfaces`` (FunctionInfo, Invoker, InvocationResult, FunctionInvocationError: the seam extensions use),
``loader`` (import function_app.py, index its functions), ``invoke`` (FunctionInvoker: thread pool or event
loop, bindings, functionTimeout, logs, retries), ``context`` (func.Context, TraceContext, RetryContext,
func.Out), ``retry`` (``@app.retry`` / host.json retry policies).
"""
