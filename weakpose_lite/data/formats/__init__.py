"""The file formats the kit reads and writes: CMU Panoptic (calibration, coco19 3D, hands), OpenPose JSON, the checks
they parse through (``validation``), writing a dataset's sequence in those formats (``export``), and users' own
detections for lifting (``user_inputs``)."""
