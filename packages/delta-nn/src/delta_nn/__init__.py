"""deltamod-nn: neural networks (LSTM, MLP) for deltamod.

Components (registered by :mod:`delta_nn.plugin`):

``nn.lstm``
    :class:`delta_nn.lstm.LSTMNet` with :class:`delta_nn.config.LSTMConfig`.
``nn.mlp``
    :class:`delta_nn.mlp.MLPNet` with :class:`delta_nn.config.MLPConfig`.
``nn.lstm_mlp``
    :class:`delta_nn.lstm_mlp.LSTMMLPNet` with :class:`delta_nn.config.LSTMMLPConfig`.

This package module and :mod:`delta_nn.plugin` / :mod:`delta_nn.config` import no torch;
the network modules do.
"""
