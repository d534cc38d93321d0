"""deltamod-nn: neural networks (LSTM, MLP) for deltamod."""
