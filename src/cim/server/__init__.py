"""The CIM reward server (`cim serve`): FastAPI app, micro-batcher, wire schemas, limits and metrics."""
