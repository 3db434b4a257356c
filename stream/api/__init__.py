"""The read API process (``aidevops api``): stored scores and alerts over HTTP."""
