// The audit page (#audit): not built yet; its section in index.html says what it is for.
